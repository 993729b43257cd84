"""Plausible wrong answers, at least one per question: each must fail a public check of its question (so lose points)
(``cs180utils.machinery.assignment.mutate``; run by test_assignment_ci.py)."""
from cs180utils.machinery.assignment.mutate import Mutation as M

ENC, FIELD = "cs180utils/encodings.py", "cs180utils/field2d/model.py"
RAYS, SAMP, REND, NERF = ("cs180utils/nerf/rays.py", "cs180utils/nerf/samplers.py", "cs180utils/nerf/rendering.py",
                          "cs180utils/nerf/fields.py")
CNN, AUG, RES, HM = ("cs180utils/keypoints/cnn.py", "cs180utils/keypoints/augment.py",
                     "cs180utils/keypoints/resnet.py", "cs180utils/keypoints/heatmaps.py")

MUTATIONS = [
    M("pe", ENC, "return torch.cat((x, sincos), dim=-1) if include_input else sincos", "return sincos",
      "PE without the raw x"),
    M("pe", ENC, "device=x.device)) * math.pi", "device=x.device))", "frequencies 2^k without pi"),
    M("pe", ENC, "torch.stack((torch.sin(angles), torch.cos(angles))", "torch.stack((torch.cos(angles), torch.sin(angles))",
      "cos before sin"),

    M("field_mlp", FIELD, "            layers.append(nn.ReLU(inplace=True))", "            pass",
      "no ReLU between the layers"),
    M("field_mlp", FIELD, "        if i < depth - 1:", "        if i < depth:", "a ReLU after the last layer too"),
    M("field_mlp", FIELD, "return torch.sigmoid(self.mlp(self.encoding(coords)))", "return self.mlp(self.encoding(coords))",
      "no sigmoid on the colour"),

    M("pixel_to_camera", RAYS, "[[focal, 0.0, W / 2.0], [0.0, focal, H / 2.0]", "[[focal, 0.0, H / 2.0], [0.0, focal, W / 2.0]",
      "principal point (H/2, W/2)"),
    M("pixel_to_camera", RAYS, "(torch.linalg.inv(K) @ uv1[..., None])", "(K @ uv1[..., None])", "K instead of K^-1"),
    M("pixel_to_camera", RAYS, "return x * (s[..., None] if s.ndim else s)", "return x", "the depth s ignored"),

    M("camera_to_world", RAYS, "return (c2w[..., :3, :3] @ x[..., None])", "return (c2w[..., :3, :3].transpose(-1, -2) @ x[..., None])",
      "R^T instead of R"),
    M("camera_to_world", RAYS, "[..., 0] + c2w[..., :3, 3]", "[..., 0]", "translation forgotten"),

    M("pixel_to_ray", RAYS, "return rays_o, d / torch.linalg.norm(d, dim=-1, keepdim=True)", "return rays_o, d",
      "direction not normalised"),
    M("pixel_to_ray", RAYS, "    d = x_w - rays_o\n", "    d = x_w\n", "direction = the world point, not minus the origin"),

    M("pixel_centres", RAYS,
      "torch.arange(H, dtype=dtype, device=device) + 0.5,\n                          torch.arange(W, dtype=dtype, device=device) + 0.5",
      "torch.arange(H, dtype=dtype, device=device),\n                          torch.arange(W, dtype=dtype, device=device)",
      "pixel corners instead of centres (pixel_grid)"),
    M("pixel_centres", RAYS, "uv = torch.stack((j, i), dim=-1).to(c2ws.dtype) + 0.5", "uv = torch.stack((j, i), dim=-1).to(c2ws.dtype)",
      "pixel corners instead of centres (random_rays)"),
    M("pixel_centres", RAYS, "uv = torch.stack((j, i), dim=-1)", "uv = torch.stack((i, j), dim=-1)",
      "(row, column) instead of (u, v)"),

    M("sampling", SAMP, "generator=generator, dtype=dtype).to(device) / n_samples", "generator=generator, dtype=dtype).to(device)",
      "jitter over the whole range, not inside a bin"),
    M("sampling", SAMP, "u = torch.arange(n_samples, dtype=dtype, device=device) / n_samples",
      "u = torch.arange(n_samples, dtype=dtype, device=device) / (n_samples - 1)", "linspace with the far end included"),
    M("sampling", SAMP, "    if perturb:\n        u = u + torch.rand", "    if True:\n        u = u + torch.rand",
      "jitter when not training too"),

    M("volrend", REND,
      "torch.exp(-torch.cat((torch.zeros_like(tau[:, :1]), torch.cumsum(tau, dim=-1)[:, :-1]), dim=-1))",
      "torch.exp(-torch.cumsum(tau, dim=-1))", "transmittance including the current sample"),
    M("volrend", REND, "alpha = 1.0 - torch.exp(-tau)", "alpha = tau", "alpha = sigma delta (no exponential)"),
    M("volrend", REND, "return T * alpha, T, alpha", "return alpha, T, alpha", "weights without the transmittance"),
    M("volrend", REND, "rgb = rgb + (1.0 - acc[:, None]) * bg", "rgb = rgb + bg", "background not weighted by 1 - acc"),

    M("depth", REND, 'out["depth"] = (weights * t).sum(dim=-1)', 'out["depth"] = t.mean(dim=-1)', "the mean of t, unweighted"),
    M("depth", REND, 'out["depth"] = (weights * t).sum(dim=-1)', 'out["depth"] = (weights * t).mean(dim=-1)',
      "a mean instead of a sum"),

    M("nerf_mlp", NERF, "            if i == self.skip:\n                h = torch.cat((h, x), dim=-1)\n",
      "            pass\n", "the skip connection left out of forward"),
    M("nerf_mlp", NERF, "sigma = torch.relu(self.sigma_head(h))[:, 0]", "sigma = self.sigma_head(h)[:, 0]",
      "density without the ReLU (can be negative)"),
    M("nerf_mlp", NERF, "self.pe_d(dirs)), dim=-1))", "self.pe_d(torch.zeros_like(dirs))), dim=-1))",
      "colour without the view direction"),

    M("conv_block", CNN, "        layers.append(nn.MaxPool2d(2))", "        pass", "no max-pool"),
    M("conv_block", CNN, "nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2)", "nn.Conv2d(c_in, c_out, kernel)",
      "no padding: the maps shrink"),

    M("coordinate_head", CNN, "return torch.sigmoid(out) if self.sigmoid else out", "return torch.sigmoid(out)",
      "a sigmoid even when sigmoid=False"),
    M("coordinate_head", CNN, "out = self.fc(x).view(-1, self.n_points, 2)", "out = self.fc(x).view(-1, 2, self.n_points).transpose(1, 2)",
      "outputs read as (2, K) instead of (K, 2)"),

    M("augment", AUG, "            x, k = geo(x, k)", "            x = geo(x)", "keypoints not moved with the image"),
    M("augment", AUG, "flipped[..., 0] = w - flipped[..., 0]", "flipped[..., 0] = w - 1 - flipped[..., 0]",
      "mirror u -> w - 1 - u (pixel indices)"),
    M("augment", AUG, "flipped = flipped[..., list(self.cfg.flip_perm), :]", "flipped = flipped",
      "mirror without swapping left and right points"),

    M("resnet", RES, "net.conv1 = nn.Conv2d(in_channels, 64,", "net.conv1 = nn.Conv2d(3, 64,", "first convolution keeps 3 channels"),
    M("resnet", RES, "nn.Linear(net.fc.in_features, 2 * num_keypoints)", "nn.Linear(net.fc.in_features, num_keypoints)",
      "K outputs instead of 2K"),
    M("resnet", RES, "return self.mean_shape + offsets", "return offsets", "offsets without the mean shape"),

    M("gaussian", HM, "c = -0.5 / sigma ** 2", "c = -0.5 / sigma", "sigma instead of sigma squared"),
    M("gaussian", HM, "dy, dx = ys - kps[..., 1:2], xs - kps[..., 0:1]", "dy, dx = ys - kps[..., 0:1], xs - kps[..., 1:2]",
      "x and y swapped"),

    M("soft_argmax", HM, "    p = p / p.sum(-1, keepdim=True).clamp_min(1e-12)\n    p = p.view", "    p = p.view",
      "weights not normalised"),
    M("soft_argmax", HM, "return torch.stack([x, y], dim=-1)", "return torch.stack([y, x], dim=-1)",
      "(y, x) instead of (x, y)"),
    M("soft_argmax", HM, "x = (p.sum(2) * xs).sum(-1)", "x = (p.sum(2) * (xs + 0.5)).sum(-1)", "pixel corners: x + 0.5"),

    M("argmax", HM, "return torch.stack([idx % W, idx // W], dim=-1).float()", "return torch.stack([idx // W, idx % W], dim=-1).float()",
      "(row, column) instead of (x, y)"),

    M("binary", HM, "ij = torch.floor(kps) + 0.5", "ij = torch.floor(kps)", "cell corner instead of its centre"),
    M("binary", HM, "ij = torch.floor(kps) + 0.5", "ij = torch.round(kps) + 0.5", "nearest corner's cell instead of the cell holding the point"),
    M("binary", HM, "Factored((ys == ij[..., 1:2])", "Factored((ys == ij[..., 0:1])", "row from the x coordinate"),
]
