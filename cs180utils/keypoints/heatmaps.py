"""Heatmap targets and read-outs for keypoint networks (notebooks 08-09).

Targets are made for a whole batch at once, on the tensor's device, by broadcasting two 1-D Gaussians
(the 2-D Gaussian is separable): no Python loop over images or keypoints. ``gaussian_heatmaps_loop`` is the
straightforward per-keypoint version, kept as the reference for tests and ``benchmarks/heatmaps.py``.

Coordinates are pixel indices of the heatmap: pixel ``(x, y)`` has its centre at ``(x, y)``.

    >>> h = gaussian_heatmaps(kps, (H, W), sigma=2.0)    # kps (B, K, 2) -> (B, K, H, W), peak 1 at each point
    >>> soft_argmax(logits)                               # (B, K, H, W) -> (B, K, 2), sub-pixel
    >>> argmax_coords(logits)                             # (B, K, H, W) -> (B, K, 2), whole pixels
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def _check_kps(kps: torch.Tensor) -> None:
    if kps.ndim != 3 or kps.shape[-1] != 2:
        raise ValueError(f"keypoints must be (B, K, 2) (x, y) pixel coordinates; got shape {tuple(kps.shape)}")


def gaussian_heatmaps(kps: torch.Tensor, size: tuple[int, int], sigma: float = 2.0) -> torch.Tensor:
    """Gaussian heatmaps ``exp(-|p - k|^2 / (2 sigma^2))``, peak 1 at each keypoint, for a whole batch.

    Args:
        kps: (B, K, 2) keypoints (x, y) in heatmap pixel coordinates (float; may be sub-pixel or outside).
        size: (H, W) of the heatmaps.
        sigma: standard deviation in pixels (> 0).
    Returns:
        (B, K, H, W) float tensor on ``kps.device`` with ``kps.dtype``.
    """
    _check_kps(kps)
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0 pixels; got {sigma} (use binary_heatmaps for one-pixel targets)")
    H, W = size
    kps = kps.float() if not kps.is_floating_point() else kps
    xs = torch.arange(W, device=kps.device, dtype=kps.dtype)                 # (W,)
    ys = torch.arange(H, device=kps.device, dtype=kps.dtype)                 # (H,)
    gx = torch.exp(-(xs - kps[..., 0:1]) ** 2 / (2 * sigma ** 2))            # (B, K, W)
    gy = torch.exp(-(ys - kps[..., 1:2]) ** 2 / (2 * sigma ** 2))            # (B, K, H)
    return gy[..., :, None] * gx[..., None, :]                               # (B, K, H, W)


def gaussian_heatmaps_loop(kps: torch.Tensor, size: tuple[int, int], sigma: float = 2.0) -> torch.Tensor:
    """The same heatmaps made the obvious way (as in a per-sample ``Dataset``): one keypoint at a time, each with
    its own NumPy meshgrid and a 2-D ``exp``. Kept as the reference for tests and ``benchmarks/heatmaps.py``."""
    _check_kps(kps)
    H, W = size
    pts = kps.detach().cpu().numpy()
    B, K, _ = pts.shape
    out = np.zeros((B, K, H, W), dtype=np.float32)
    for b in range(B):
        for k in range(K):
            xx, yy = np.meshgrid(np.arange(W), np.arange(H))
            x, y = pts[b, k]
            out[b, k] = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma ** 2))
    return torch.from_numpy(out).to(kps.device)


def binary_heatmaps(kps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Binary masks: 1 at each keypoint's nearest pixel, 0 elsewhere (all 0 if the point is off the map).

    Args:
        kps: (B, K, 2) keypoints (x, y) in heatmap pixel coordinates.
        size: (H, W).
    Returns:
        (B, K, H, W) float tensor on ``kps.device``.
    """
    _check_kps(kps)
    H, W = size
    B, K, _ = kps.shape
    ij = torch.round(kps).long()                                             # (B, K, 2)
    inside = (ij[..., 0] >= 0) & (ij[..., 0] < W) & (ij[..., 1] >= 0) & (ij[..., 1] < H)  # (B, K)
    flat = (ij[..., 1].clamp(0, H - 1) * W + ij[..., 0].clamp(0, W - 1))    # (B, K)
    out = torch.zeros(B, K, H * W, device=kps.device, dtype=torch.float32)
    out.scatter_(2, flat[..., None], inside[..., None].float())
    return out.view(B, K, H, W)


def make_targets(kps: torch.Tensor, size: tuple[int, int], kind: str = "gaussian", sigma: float = 2.0) -> torch.Tensor:
    """``gaussian`` or ``binary`` heatmaps (B, K, H, W) for keypoints (B, K, 2)."""
    if kind == "gaussian":
        return gaussian_heatmaps(kps, size, sigma)
    if kind == "binary":
        return binary_heatmaps(kps, size)
    raise ValueError(f"unknown heatmap kind {kind!r}: use 'gaussian' or 'binary'")


# ---- read-out ---------------------------------------------------------------------------------------------

def soft_argmax(heatmaps: torch.Tensor, normalize: str = "softmax", temperature: float = 1.0) -> torch.Tensor:
    """Expected (x, y) under each heatmap, the weighted average of pixel coordinates (sub-pixel, differentiable).

    Args:
        heatmaps: (B, K, H, W). With ``normalize="softmax"`` they are logits (a network's output); with
            ``"sum"`` they are non-negative weights (e.g. target heatmaps), negatives are clipped to 0.
        temperature: softmax temperature (logits / temperature).
    Returns:
        (B, K, 2) float (x, y) in heatmap pixel coordinates.
    """
    B, K, H, W = heatmaps.shape
    flat = heatmaps.reshape(B, K, H * W).float()
    if normalize == "softmax":
        p = torch.softmax(flat / temperature, dim=-1)
    elif normalize == "sum":
        flat = flat.clamp_min(0)
        p = flat / flat.sum(-1, keepdim=True).clamp_min(1e-12)
    else:
        raise ValueError(f"normalize must be 'softmax' or 'sum'; got {normalize!r}")
    p = p.view(B, K, H, W)
    xs = torch.arange(W, device=heatmaps.device, dtype=p.dtype)
    ys = torch.arange(H, device=heatmaps.device, dtype=p.dtype)
    x = (p.sum(2) * xs).sum(-1)                                              # (B, K)
    y = (p.sum(3) * ys).sum(-1)                                              # (B, K)
    return torch.stack([x, y], dim=-1)


def argmax_coords(heatmaps: torch.Tensor) -> torch.Tensor:
    """(x, y) of each heatmap's largest pixel: (B, K, H, W) -> (B, K, 2) float (whole pixels)."""
    B, K, H, W = heatmaps.shape
    idx = heatmaps.reshape(B, K, H * W).argmax(-1)                           # (B, K)
    return torch.stack([idx % W, idx // W], dim=-1).float()


def heatmap_loss(logits: torch.Tensor, target: torch.Tensor, loss: str = "ce") -> torch.Tensor:
    """Loss between a network's heatmaps (B, K, H, W) and targets (B, K, H, W).

    - ``"ce"``: each heatmap is a distribution over pixels (softmax of the logits); cross-entropy against the
      target normalised to sum 1 (the Gaussian, or the one-hot binary mask). Pairs with ``soft_argmax``.
    - ``"mse"``: per-pixel mean squared error between the raw outputs and the targets (the course's choice).
    - ``"bce"``: per-pixel binary cross-entropy with logits.
    Keypoints whose target is all zero (off the map) are ignored by ``ce``.
    """
    B, K, H, W = logits.shape
    if target.shape != logits.shape:
        raise ValueError(f"targets {tuple(target.shape)} must match the network output {tuple(logits.shape)}")
    if loss == "ce":
        t = target.reshape(B, K, H * W)
        mass = t.sum(-1, keepdim=True)                                       # (B, K, 1)
        valid = (mass > 0).float()
        logp = torch.log_softmax(logits.reshape(B, K, H * W).float(), dim=-1)
        per_kp = -(t / mass.clamp_min(1e-12) * logp).sum(-1) * valid[..., 0]  # (B, K)
        return per_kp.sum() / valid.sum().clamp_min(1.0)
    if loss == "mse":
        return F.mse_loss(logits, target)
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    raise ValueError(f"unknown heatmap loss {loss!r}: use 'ce', 'mse' or 'bce'")


def read_out(heatmaps: torch.Tensor, method: str = "soft-argmax", loss: str = "ce") -> torch.Tensor:
    """Keypoints (B, K, 2) from a network's heatmaps with ``soft-argmax`` or ``argmax``.

    For soft-argmax the heatmaps are read as logits after a ``ce`` loss, as sigmoid probabilities after
    ``bce`` and as raw non-negative weights after ``mse``.
    """
    if method == "argmax":
        return argmax_coords(heatmaps)
    if method != "soft-argmax":
        raise ValueError(f"unknown read-out {method!r}: use 'soft-argmax' or 'argmax'")
    if loss == "ce":
        return soft_argmax(heatmaps, "softmax")
    if loss == "bce":
        return soft_argmax(torch.sigmoid(heatmaps), "sum")
    return soft_argmax(heatmaps, "sum")

