"""Discrete volume rendering (the NeRF quadrature).

For samples i = 1..S along a ray with densities sigma_i and interval lengths delta_i:

    alpha_i = 1 - exp(-sigma_i delta_i)                 (probability the ray stops in interval i)
    T_i     = exp(-sum_{j<i} sigma_j delta_j)           (probability it got that far)
    w_i     = T_i alpha_i
    C       = sum_i w_i c_i + (1 - sum_i w_i) background
    depth   = sum_i w_i t_i   (expected termination distance; notebook 04)
"""
from __future__ import annotations

import torch


def render_weights(sigmas: torch.Tensor, deltas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``weights``, ``transmittance`` T and ``alpha``, each (R, S), from densities and deltas (R, S)."""
    # BEGIN SOLUTION volrend
    tau = sigmas * deltas  # (R, S) optical thickness of each interval
    alpha = 1.0 - torch.exp(-tau)
    # exclusive cumulative sum: T_1 = 1
    T = torch.exp(-torch.cat((torch.zeros_like(tau[:, :1]), torch.cumsum(tau, dim=-1)[:, :-1]), dim=-1))
    return T * alpha, T, alpha
    # END SOLUTION


def composite(weights: torch.Tensor, rgbs: torch.Tensor, t: torch.Tensor | None = None,
              background: torch.Tensor | float | None = None) -> dict[str, torch.Tensor]:
    """Colour (R, 3), accumulated opacity ``acc`` (R,) and, given ``t`` (R, S), expected ``depth`` (R,)."""
    # BEGIN SOLUTION volrend
    acc = weights.sum(dim=-1)  # (R,)
    rgb = (weights[..., None] * rgbs).sum(dim=-2)  # (R, 3)
    if background is not None:
        bg = torch.as_tensor(background, dtype=rgb.dtype, device=rgb.device)
        rgb = rgb + (1.0 - acc[:, None]) * bg
    # END SOLUTION
    out = {"rgb": rgb, "acc": acc}
    if t is not None:
        # BEGIN SOLUTION depth
        out["depth"] = (weights * t).sum(dim=-1)
        # END SOLUTION
    return out


def opacity(sigmas: torch.Tensor, deltas: torch.Tensor | float) -> torch.Tensor:
    """Each sample's opacity ``alpha`` on its own, for densities of any shape and their interval lengths (a number
    or the same shape): :func:`render_weights`' alpha, each sample taken as a ray of one sample. The fast field's
    colour skip and the occupancy grid's threshold use it, so both fields render with one formula."""
    d = torch.as_tensor(deltas, dtype=sigmas.dtype, device=sigmas.device).expand_as(sigmas)
    _, _, alpha = render_weights(sigmas.reshape(-1, 1), d.reshape(-1, 1))
    return alpha.reshape(sigmas.shape)


def volrend(sigmas: torch.Tensor, rgbs: torch.Tensor, step_size: float | torch.Tensor) -> torch.Tensor:
    """The course's function: ``sigmas`` (R, S, 1), ``rgbs`` (R, S, 3), a constant ``step_size`` -> colours (R, 3)."""
    sigmas = sigmas[..., 0] if sigmas.shape[-1] == 1 else sigmas
    d = torch.as_tensor(step_size, dtype=sigmas.dtype, device=sigmas.device).expand_as(sigmas)
    w, _, _ = render_weights(sigmas, d)
    return composite(w, rgbs)["rgb"]


def normalize_depth(depth: torch.Tensor, near: float | None = None, far: float | None = None,
                    mask: torch.Tensor | None = None) -> torch.Tensor:
    """Depth mapped to [0, 1] (0 near, 1 far): over [near, far] if given, else over the values under ``mask``."""
    if near is None or far is None:
        vals = depth[mask] if mask is not None and mask.any() else depth
        near, far = float(vals.min()), float(vals.max())
    return ((depth - near) / max(far - near, 1e-8)).clamp(0.0, 1.0)
