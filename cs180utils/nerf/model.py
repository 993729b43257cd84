"""A NeRF = field(s) + how rays are sampled + volume rendering. One place that turns rays into colours,
used by training, validation, videos and depth maps for every field (vanilla or fast).

Shapes: R rays, S samples per ray, H x W image.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from cs180utils.nerf import rays as R
from cs180utils.nerf.fields import Field
from cs180utils.nerf.rendering import composite, render_weights
from cs180utils.nerf.samplers import deltas, points_along, ray_aabb, sample_pdf, stratified_t


@dataclass
class RenderSettings:
    """How a :class:`NeRF` turns rays into colours. ``near``/``far`` are the scene's (``Scene.near``/``far``: the
    renderer does not guess them); the experiment makes one from its config and the scene in one place
    (:func:`cs180utils.machinery.nerf.experiment.build_model`)."""
    near: float                        # sampling range along each ray: the scene's
    far: float
    n_samples: int = 64                # stratified (coarse) samples per ray
    render_samples: int | None = None  # rendering without gradients (validation, images, video, depth): this many
                                       # samples per ray instead (None: n_samples)
    n_fine: int = 0                    # > 0: hierarchical sampling, this many extra samples from the coarse weights
    aabb: torch.Tensor | None = None   # (2, 3): sample only inside this box (rays that miss it are background)
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)  # colour behind the scene
    stop_transmittance: float = 1e-4   # rendering without gradients (validation, images, videos): a ray whose
                                       # transmittance fell below this is not evaluated further (0: every sample)

    @property
    def image_samples(self) -> int:
        """Samples per ray when rendering without gradients or jitter: ``render_samples``, else ``n_samples``."""
        return self.n_samples if self.render_samples is None else self.render_samples


class NeRF(nn.Module):
    """``field`` (and ``fine`` for hierarchical sampling), each a :class:`cs180utils.nerf.fields.Field`, with its
    :class:`RenderSettings`."""

    STOP_SEGMENT = 8   # early ray termination evaluates samples front to back, this many per ray at a time

    def __init__(self, field: Field, settings: RenderSettings, fine: Field | None = None):
        super().__init__()
        for name, f in (("field", field), ("fine", fine)):
            if f is not None and not isinstance(f, Field):
                raise TypeError(f"{name} must be a cs180utils.nerf.fields.Field (forward(points, dirs) -> (sigma, "
                                f"rgb) and the hooks' defaults), got {type(f).__name__}: subclass Field instead of "
                                f"nn.Module")
        self.field, self.fine, self.settings = field, fine, settings
        if settings.n_fine > 0 and fine is None:
            raise ValueError("n_fine > 0 (hierarchical sampling) needs a fine field")

    # ---- rays -> colours -------------------------------------------------------------------------------
    def _eval(self, fld: Field, rays_o, rays_d, t, t_far) -> dict[str, torch.Tensor]:
        Rn, S = t.shape
        pts = points_along(rays_o, rays_d, t)  # (R, S, 3)
        dirs = rays_d[:, None, :].expand(Rn, S, 3)
        dt = deltas(t, t_far)  # (R, S)
        keep = fld.sample_mask(pts, dt)  # (R, S) bool, or None: every sample
        if keep is None and not torch.is_grad_enabled() and self.settings.stop_transmittance > 0:
            sigma, rgb = self._eval_front_to_back(fld, pts, dirs, dt)
        elif keep is None:
            sigma, rgb = fld(pts.reshape(-1, 3), dirs.reshape(-1, 3))
            sigma, rgb = sigma.reshape(Rn, S), rgb.reshape(Rn, S, 3)
        else:  # compaction: the field sees only the samples that can change the colour; the rest are empty
            sigma_k, rgb_k = fld(pts[keep], dirs[keep])  # (K,), (K, 3)
            sigma = pts.new_zeros(Rn, S).index_put((keep,), sigma_k)
            rgb = pts.new_zeros(Rn, S, 3).index_put((keep,), rgb_k)
        w, _, _ = render_weights(sigma, dt)
        out = composite(w, rgb, t, self.settings.background)
        out["weights"] = w
        return out

    def _eval_front_to_back(self, fld: Field, pts, dirs, dt) -> tuple[torch.Tensor, torch.Tensor]:
        """Early ray termination (no gradients): densities (R, S) and colours (R, S, 3) of the samples, evaluated
        ``STOP_SEGMENT`` per ray at a time from the front; once a ray's transmittance exp(-sum sigma delta) is
        below ``stop_transmittance`` its remaining samples are left empty. What they could still add to the
        colour, depth weight or opacity is at most that transmittance, so the image differs from evaluating
        every sample by less than ``stop_transmittance`` per channel (opaque scenes skip most samples behind
        their surfaces)."""
        Rn, S = dt.shape
        sigma, rgb = pts.new_zeros(Rn, S), pts.new_zeros(Rn, S, 3)
        tau = pts.new_zeros(Rn)                                   # optical thickness in front of the segment
        alive = torch.arange(Rn, device=pts.device)               # rays still to be evaluated
        limit = -math.log(self.settings.stop_transmittance)
        for a in range(0, S, self.STOP_SEGMENT):
            if alive.numel() == 0:
                break
            b = min(a + self.STOP_SEGMENT, S)
            s, c = fld(pts[alive, a:b].reshape(-1, 3), dirs[alive, a:b].reshape(-1, 3))
            s, c = s.reshape(-1, b - a), c.reshape(-1, b - a, 3)  # (R_alive, b - a), (R_alive, b - a, 3)
            sigma[alive, a:b], rgb[alive, a:b] = s, c
            tau[alive] += (s * dt[alive, a:b]).sum(-1)
            alive = alive[tau[alive] < limit]
        return sigma, rgb

    def render_rays(self, rays_o: torch.Tensor, rays_d: torch.Tensor, perturb: bool = False,
                    generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Rays (R, 3) -> ``rgb`` (R, 3), ``depth`` (R,), ``acc`` (R,) (and ``coarse_rgb`` when hierarchical).
        ``perturb`` jitters the samples (training only). Without gradients and without jitter (rendering images)
        the ray takes ``settings.render_samples`` samples where set."""
        st = self.settings
        n_samples = st.n_samples if perturb or torch.is_grad_enabled() else st.image_samples
        Rn = rays_o.shape[0]
        if st.aabb is not None:
            t_near, t_far, hit = ray_aabb(rays_o, rays_d, st.aabb.to(rays_o), st.near, st.far)
        else:
            t_near = torch.full((Rn,), st.near, dtype=rays_o.dtype, device=rays_o.device)
            t_far = torch.full_like(t_near, st.far)
            hit = torch.ones(Rn, dtype=torch.bool, device=rays_o.device)
        # the field may narrow each ray's range (the fast field: to its occupied cells; by default unchanged)
        t_near, t_far, hit = self.field.ray_bounds(rays_o, rays_d, t_near, t_far, hit)  # (R,) each
        bg = torch.as_tensor(st.background, dtype=rays_o.dtype, device=rays_o.device)
        out = {"rgb": bg.expand(Rn, 3).clone(), "depth": torch.zeros_like(t_near), "acc": torch.zeros_like(t_near)}
        if self.fine is not None and st.n_fine > 0:
            out["coarse_rgb"] = out["rgb"].clone()
        idx = hit.nonzero()[:, 0]
        if idx.numel() == 0:
            return out
        o, d, tn, tf = rays_o[idx], rays_d[idx], t_near[idx], t_far[idx]
        t = stratified_t(tn, tf, n_samples, idx.numel(), perturb, generator, o.device, o.dtype)  # (R', S)
        res = self._eval(self.field, o, d, t, tf)
        if self.fine is not None and st.n_fine > 0:
            out["coarse_rgb"] = out["coarse_rgb"].index_put((idx,), res["rgb"])
            bins = torch.cat((t, tf[:, None]), dim=-1)  # (R', S + 1) bin edges
            # sample i's weight says the surface lies in [t_{i-1}, t_{i+1}]: share it with the bin in front
            w = res["weights"]
            w = 0.5 * (w + torch.cat((w[:, 1:], torch.zeros_like(w[:, :1])), dim=-1))
            t_fine = sample_pdf(bins, w, st.n_fine, perturb, generator)
            t_all, _ = torch.sort(torch.cat((t, t_fine.detach()), dim=-1), dim=-1)
            res = self._eval(self.fine, o, d, t_all, tf)
        for k in ("rgb", "depth", "acc"):
            out[k] = out[k].index_put((idx,), res[k])
        return out

    def forward(self, rays_o: torch.Tensor, rays_d: torch.Tensor, perturb: bool = False,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """:meth:`render_rays` (the module's call: a ``DistributedDataParallel`` wrapper sees it)."""
        return self.render_rays(rays_o, rays_d, perturb, generator)

    @torch.no_grad()
    def render_image(self, c2w: torch.Tensor, focal: float, H: int, W: int, chunk: int = 4096) -> dict[str, torch.Tensor]:
        """One camera's image: ``rgb`` (H, W, 3), ``depth`` (H, W), ``acc`` (H, W), in chunks of ``chunk``
        rays so any resolution renders in bounded memory (results are moved to the CPU)."""
        was_training = self.training
        self.eval()
        params = list(self.parameters())
        dev = params[0].device if params else c2w.device
        c2w = c2w.to(dev)
        K = R.intrinsics(focal, H, W, dtype=c2w.dtype, device=dev)
        uv = R.pixel_grid(H, W, c2w.dtype, dev).reshape(-1, 2)
        parts: dict[str, list[torch.Tensor]] = {"rgb": [], "depth": [], "acc": []}
        for s in range(0, uv.shape[0], chunk):
            o, d = R.pixel_to_ray(K, c2w, uv[s:s + chunk])
            res = self.render_rays(o, d, perturb=False)
            for k in parts:
                parts[k].append(res[k].cpu())
        self.train(was_training)
        return {"rgb": torch.cat(parts["rgb"]).reshape(H, W, 3), "depth": torch.cat(parts["depth"]).reshape(H, W),
                "acc": torch.cat(parts["acc"]).reshape(H, W)}

    # ---- the fields' training hooks (Field's defaults: nothing; one group of all parameters) ----------------
    def on_train_step(self, step: int) -> None:
        """After the backward pass, before the optimizer step (the training loop's ``before_step``)."""
        for fld in (self.field, self.fine):
            if fld is not None:
                fld.on_train_step(step)

    def param_groups(self, lr: float) -> list[dict]:
        """Adam parameter groups: each field's ``param_groups(lr)``, the coarse field's first."""
        return [g for fld in (self.field, self.fine) if fld is not None for g in fld.param_groups(lr)]

