"""The assignment's questions: what a student writes, where it is used, what it is worth.

Each question names the functions whose marked bodies (``# BEGIN SOLUTION <id>`` ... ``# END SOLUTION`` in the
package) the student edition replaces by a stub between ``START OF YOUR CODE`` and ``END OF YOUR CODE`` lines,
the notebook section that introduces it (the student notebooks get a TODO cell and a ``check`` cell there) and
its points. Its checks are in ``cases.py`` (public ones a student runs with ``check``, hidden ones the
autograder adds); a question's points are shared equally by its checks. Each question is graded on its own: its
checks run with the reference solution of every other question.

``tests/assignment`` keeps this table, the markers and the checks consistent.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    id: str                      # short name: check("volrend"), the autograder's question name
    title: str                   # what the student implements, in a few words
    notebook: str                # "03": the notebook that introduces it
    section: str                 # that section's name, for messages; the TODO cells go under the notebook's cell
                                 # tagged question-<id> (build.section_tag), whatever its heading says
    points: int                  # shared equally by its checks (cases.py), public and hidden
    parts: dict[str, str]        # "path/to/module.py::qualname" -> the formula to write in that function


QUESTIONS: tuple[Question, ...] = (
    Question(
        "pe", "the positional encoding", "01", "2. Positional encoding and the MLP", 3,
        {"cs180utils/encodings.py::positional_encoding":
            "PE(x) = [x, sin(2^0 pi x), cos(2^0 pi x), ..., sin(2^(L-1) pi x), cos(2^(L-1) pi x)] on the last axis, "
            "(..., d) -> (..., d (2L + 1)); layout [x (d), sin(f_0 x) (d), cos(f_0 x) (d), sin(f_1 x) (d), ...] "
            "with f_k = 2^k pi; without the raw x when include_input is False."}),
    Question(
        "field_mlp", "the 2-D field's MLP", "01", "2. Positional encoding and the MLP", 3,
        {"cs180utils/field2d/model.py::mlp":
            "nn.Sequential of `depth` nn.Linear layers in_dim -> width -> ... -> width -> out_dim, "
            "with nn.ReLU after every layer but the last.",
         "cs180utils/field2d/model.py::NeuralField2D.forward":
            "colours = sigmoid(self.mlp(self.encoding(coords))): (R, 2) -> (R, 3) in (0, 1)."}),
    Question(
        "pixel_to_camera", "intrinsics K and pixel -> camera", "02", "1. Intrinsics and pixel → camera", 2,
        {"cs180utils/nerf/rays.py::intrinsics":
            "K = [[f, 0, W/2], [0, f, H/2], [0, 0, 1]], a (3, 3) tensor of `dtype` on `device`.",
         "cs180utils/nerf/rays.py::pixel_to_camera":
            "x_c = s K^-1 [u, v, 1]^T for uv (..., 2) -> (..., 3); s is a number or a tensor (...,)."}),
    Question(
        "camera_to_world", "camera -> world", "02", "2. A ray per pixel, for many cameras at once", 1,
        {"cs180utils/nerf/rays.py::transform":
            "x_w = R x_c + t with R = c2w[..., :3, :3], t = c2w[..., :3, 3]: (..., 3) -> (..., 3), batched."}),
    Question(
        "pixel_to_ray", "pixel -> ray", "02", "2. A ray per pixel, for many cameras at once", 2,
        {"cs180utils/nerf/rays.py::pixel_to_ray":
            "rays_o = the camera centre c2w[..., :3, 3]; rays_d = (x_w - rays_o) / |x_w - rays_o| with "
            "x_w = transform(c2w, pixel_to_camera(K, uv, 1.0)); both (..., 3)."}),
    Question(
        "pixel_centres", "rays through pixel centres", "02", "2. A ray per pixel, for many cameras at once", 2,
        {"cs180utils/nerf/rays.py::pixel_grid":
            "(H, W, 2) grid of pixel centres (u, v) = (column + 0.5, row + 0.5).",
         "cs180utils/nerf/rays.py::random_rays":
            "uv (R, 2): the centres (u, v) = (j + 0.5, i + 0.5) of the drawn pixels (row i, column j)."}),
    Question(
        "sampling", "samples along rays, with perturbation", "02", "3. Samples along each ray", 3,
        {"cs180utils/nerf/samplers.py::stratified_t":
            "t_i = near + (far - near) i / S for i = 0 .. S-1, (R, S); with perturb, add (far - near) / S times "
            "torch.rand((R, S), generator=generator) so that every sample moves only inside its own bin.",
         "cs180utils/nerf/samplers.py::points_along":
            "x = o + t d: rays (R, 3), t (R, S) -> points (R, S, 3)."}),
    Question(
        "volrend", "volume rendering", "03", "1. Volume rendering, checked against the course", 5,
        {"cs180utils/nerf/rendering.py::render_weights":
            "alpha_i = 1 - exp(-sigma_i delta_i); T_i = exp(-sum_{j<i} sigma_j delta_j) (T_1 = 1: the current "
            "sample is not included); w_i = T_i alpha_i; return w, T, alpha, each (R, S).",
         "cs180utils/nerf/rendering.py::composite":
            "acc = sum_i w_i (R,); rgb = sum_i w_i c_i (R, 3); given a background colour, "
            "rgb += (1 - acc) background. Define rgb and acc."}),
    Question(
        "depth", "expected depth", "04", "1. Expected depth against the exact answer", 2,
        {"cs180utils/nerf/rendering.py::composite":
            "out['depth'] = sum_i w_i t_i (R,): the expected distance at which the ray stops "
            "(NeRF's renderer asks for it from notebook 03's training on)."}),
    Question(
        "nerf_mlp", "the NeRF MLP with its skip and view direction", "03", "2. The network (the course's figure)", 4,
        {"cs180utils/nerf/fields.py::NerfField.__init__":
            "self.trunk = nn.ModuleList of `depth` nn.Linear(., width): layer 0 takes PE(x) (dx = self.pe_x.out_dim, "
            "63), layer `skip` takes width + dx (PE(x) concatenated again), the others width; "
            "self.sigma_head = Linear(width, 1); self.feature = Linear(width, width); self.rgb_head = "
            "Sequential(Linear(width + self.pe_d.out_dim, width // 2), ReLU, Linear(width // 2, 3), Sigmoid).",
         "cs180utils/nerf/fields.py::NerfField.forward":
            "x = self.pe_x((points - self.center) * self.scale); h = ReLU of each trunk layer, with x concatenated "
            "to h before layer `skip`; sigma = relu(sigma_head(h)) (N,); rgb = rgb_head(cat(feature(h), "
            "self.pe_d(dirs))) (N, 3); return sigma, rgb."}),
    Question(
        "conv_block", "the nose-tip CNN's convolution blocks", "05", "The network", 2,
        {"cs180utils/keypoints/cnn.py::ConvBlock.__init__":
            "layers = [Conv2d(c_in, c_out, kernel, padding=kernel // 2), BatchNorm2d(c_out) if batch_norm, ReLU], "
            "then if double [Conv2d(c_out, c_out, 3, padding=1), BatchNorm2d if batch_norm, ReLU], then "
            "MaxPool2d(2): (B, C_in, H, W) -> (B, C_out, H/2, W/2)."}),
    Question(
        "coordinate_head", "the CNN's fully connected head", "05", "The network", 2,
        {"cs180utils/keypoints/cnn.py::CoordinateHead.__init__":
            "self.fc = Sequential(Flatten, Linear(in_features, hidden), ReLU, Dropout(dropout), "
            "Linear(hidden, 2 n_points)).",
         "cs180utils/keypoints/cnn.py::CoordinateHead.forward":
            "out = self.fc(x) viewed as (B, K, 2), (x, y) pairs; sigmoid(out) when self.sigmoid, else out."}),
    Question(
        "augment", "augmentation that moves the keypoints with the image", "06",
        "Augmentation with the keypoints following", 3,
        {"cs180utils/keypoints/augment.py::KeypointAugment._one":
            "geo = self._affine(h, w) (None when off); apply it to image and keypoints together: x, k = geo(x, k). "
            "Then, with probability cfg.hflip, mirror: image x.flip(-1), keypoint u -> w - u (pixel i covers "
            "[i, i + 1)), reordered by cfg.flip_perm (ValueError when K > 1 and flip_perm is None); keep x an "
            "Image and k KeyPoints with tv_tensors.wrap."}),
    Question(
        "resnet", "ResNet18 with 1 input channel and 2K outputs", "07", "The model", 3,
        {"cs180utils/keypoints/resnet.py::KeypointResNet.__init__":
            "net.conv1 = Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False) (pretrained: copy the RGB "
            "filters summed over colour / in_channels); net.fc = Linear(net.fc.in_features, 2K) with zero "
            "weights and bias (an untrained model answers the mean shape).",
         "cs180utils/keypoints/resnet.py::KeypointResNet.forward":
            "offsets = self.net(x) viewed as (B, K, 2); return self.mean_shape + offsets."}),
    Question(
        "gaussian", "Gaussian heatmaps", "08", "Targets: one Gaussian per keypoint, a whole batch at once", 2,
        {"cs180utils/keypoints/heatmaps.py::factored_targets":
            "return Factored(gy, gx) with gy[b, k, y] = exp(-(y - k_y)^2 / (2 sigma^2)) (B, K, H) and "
            "gx[b, k, x] = exp(-(x - k_x)^2 / (2 sigma^2)) (B, K, W) over the cell centres ys, xs (index + 0.5): their outer "
            "product is the 2-D Gaussian, peak 1 at the keypoint."}),
    Question(
        "soft_argmax", "the weighted-average read-out", "08", "Training, and reading the points out", 3,
        {"cs180utils/keypoints/heatmaps.py::soft_argmax":
            "normalise p (B, K, H*W) to sum 1 per map; x = sum p * x_centre, y = sum p * y_centre (the cell in "
            "column j, row i has its centre at (j + 0.5, i + 0.5): xs, ys); return (B, K, 2) (x, y)."}),
    Question(
        "argmax", "the argmax read-out", "08", "Training, and reading the points out", 1,
        {"cs180utils/keypoints/heatmaps.py::argmax_coords":
            "idx = the flat index of each map's largest pixel; return the centre of that cell, (x, y) = "
            "(idx mod W + 0.5, idx div W + 0.5), as float (B, K, 2)."}),
    Question(
        "binary", "binary-mask heatmaps", "09", "The two targets", 2,
        {"cs180utils/keypoints/heatmaps.py::factored_targets":
            "ij = the centre of the cell holding each keypoint (torch.floor + 0.5); return Factored(gy, gx) with gy the one-hot "
            "of ij_y over H (all 0 when the point is off the map) (B, K, H) and gx the one-hot of ij_x over W."}),
)

def question(qid: str) -> Question:
    """The question called ``qid``; a KeyError lists the valid names."""
    for q in QUESTIONS:
        if q.id == qid:
            return q
    raise KeyError(f"no question {qid!r}; the questions are: {', '.join(q.id for q in QUESTIONS)}")


def marked_files() -> list[str]:
    """Repository-relative paths of the modules with marked bodies: what a submission consists of."""
    return sorted({part.split("::")[0] for q in QUESTIONS for part in q.parts})


def max_score() -> int:
    return sum(q.points for q in QUESTIONS)
