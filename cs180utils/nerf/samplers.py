"""Where along each ray the field is evaluated: stratified samples in [near, far], ray/box clipping, and
coarse-to-fine (inverse-CDF) resampling.

Shapes: R rays, S samples per ray. ``t`` is the distance along the (unit) ray direction.
"""
from __future__ import annotations

import torch


def stratified_t(near: torch.Tensor | float, far: torch.Tensor | float, n_samples: int, n_rays: int,
                 perturb: bool = False, generator: torch.Generator | None = None,
                 device=None, dtype=torch.float32) -> torch.Tensor:
    """``t`` (R, S): S bins of equal width between ``near`` and ``far`` (scalars or (R,)).

    Without ``perturb`` each sample sits at the *start* of its bin (``near + i * (far - near) / S``, the
    course's ``linspace`` without the end point, so the step size is exactly ``(far - near) / S``); with
    ``perturb`` (training only) it moves uniformly at random inside its bin.
    """
    near = torch.as_tensor(near, dtype=dtype, device=device).expand(n_rays)[:, None]  # (R, 1)
    far = torch.as_tensor(far, dtype=dtype, device=device).expand(n_rays)[:, None]
    # BEGIN SOLUTION sampling
    u = torch.arange(n_samples, dtype=dtype, device=device) / n_samples  # (S,)
    if perturb:
        u = u + torch.rand((n_rays, n_samples), generator=generator, dtype=dtype).to(device) / n_samples
    return near + (far - near) * u  # (R, S)
    # END SOLUTION


def points_along(rays_o: torch.Tensor, rays_d: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Points (R, S, 3) = o + t d for rays (R, 3) and distances ``t`` (R, S)."""
    # BEGIN SOLUTION sampling
    return rays_o[:, None, :] + t[..., None] * rays_d[:, None, :]
    # END SOLUTION


def sample_along_rays(rays_o: torch.Tensor, rays_d: torch.Tensor, near: float | torch.Tensor = 2.0,
                      far: float | torch.Tensor = 6.0, n_samples: int = 64, perturb: bool = False,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The course's sampler: ``points`` (R, S, 3) and ``t`` (R, S) between ``near`` and ``far``."""
    t = stratified_t(near, far, n_samples, rays_o.shape[0], perturb, generator, rays_o.device, rays_o.dtype)
    return points_along(rays_o, rays_d, t), t


def deltas(t: torch.Tensor, far: torch.Tensor | float) -> torch.Tensor:
    """Interval lengths (R, S) owned by each sample: ``t[i+1] - t[i]``, the last one up to ``far``."""
    far = torch.as_tensor(far, dtype=t.dtype, device=t.device).expand(t.shape[0])[:, None]  # (R, 1)
    return torch.diff(torch.cat((t, far), dim=-1), dim=-1).clamp_min(0.0)


def ray_aabb(rays_o: torch.Tensor, rays_d: torch.Tensor, aabb: torch.Tensor, near: float = 0.0,
             far: float = float("inf")) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Clip rays (R, 3) to the box ``aabb`` (2, 3) = [min, max] (slab test) and to [near, far].

    Returns ``t_near`` (R,), ``t_far`` (R,) and ``hit`` (R,) bool; rays that miss get ``t_near = t_far``.
    """
    inv = 1.0 / torch.where(rays_d.abs() < 1e-9, torch.full_like(rays_d, 1e-9), rays_d)
    t0, t1 = (aabb[0] - rays_o) * inv, (aabb[1] - rays_o) * inv  # (R, 3)
    t_near = torch.minimum(t0, t1).amax(dim=-1).clamp_min(near)
    t_far = torch.maximum(t0, t1).amin(dim=-1).clamp_max(far)
    hit = t_far > t_near
    t_far = torch.where(hit, t_far, t_near)
    return t_near, t_far, hit


def sample_pdf(bins: torch.Tensor, weights: torch.Tensor, n_samples: int, perturb: bool = False,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``n_samples`` distances (R, n) from the piecewise-constant pdf ``weights`` (R, S) over the
    S intervals ``bins`` (R, S + 1) by inverse transform sampling (NeRF's hierarchical sampling)."""
    w = weights.detach() + 1e-5
    pdf = w / w.sum(dim=-1, keepdim=True)
    cdf = torch.cat((torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, dim=-1)), dim=-1)  # (R, S + 1)
    R = weights.shape[0]
    if perturb:
        u = torch.rand((R, n_samples), generator=generator, dtype=w.dtype).to(w.device)
    else:
        u = ((torch.arange(n_samples, dtype=w.dtype, device=w.device) + 0.5) / n_samples).expand(R, n_samples)
    u = u.contiguous()
    idx = torch.searchsorted(cdf, u, right=True).clamp(1, cdf.shape[-1] - 1)  # (R, n)
    lo, hi = idx - 1, idx
    cdf_lo, cdf_hi = cdf.gather(-1, lo), cdf.gather(-1, hi)
    bin_lo, bin_hi = bins.gather(-1, lo), bins.gather(-1, hi)
    frac = (u - cdf_lo) / (cdf_hi - cdf_lo).clamp_min(1e-8)
    return bin_lo + frac * (bin_hi - bin_lo)
