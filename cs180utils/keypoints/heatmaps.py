"""Heatmap targets and read-outs for keypoint networks (notebooks 08-09).

Targets are made for a whole batch at once, on the tensor's device, by broadcasting two 1-D Gaussians
(the 2-D Gaussian is separable): no Python loop over images or keypoints. ``gaussian_heatmaps_loop`` makes them
one keypoint at a time, as a per-sample ``Dataset`` would (the baseline of ``benchmarks/heatmaps.py``).

Coordinates are continuous pixels of the heatmap, the convention of :mod:`cs180utils.keypoints`.

    >>> h = gaussian_heatmaps(kps, (H, W), sigma=2.0)    # kps (B, K, 2) -> (B, K, H, W), peak 1 at each point
    >>> t = factored_targets(kps, (H, W), "gaussian")     # the same as two 1-D factors (B, K, H), (B, K, W)
    >>> heatmap_loss(logits, t, "ce")                     # losses take either form; training uses factors
    >>> soft_argmax(logits)                               # (B, K, H, W) -> (B, K, 2), sub-pixel
    >>> argmax_coords(logits)                             # (B, K, H, W) -> (B, K, 2), whole pixels
"""
from __future__ import annotations

from typing import NamedTuple

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
    return factored_targets(kps, size, "gaussian", sigma).dense()           # (B, K, H, W)


def gaussian_heatmaps_loop(kps: torch.Tensor, size: tuple[int, int], sigma: float = 2.0) -> torch.Tensor:
    """The same heatmaps made one keypoint at a time on the CPU, as a per-sample ``Dataset`` makes them: a
    (1, 1, H, W) map from :func:`factored_targets` per keypoint, copied into a NumPy array. The baseline of
    ``benchmarks/heatmaps.py``; the tests compare it with the batched maps (the batch, the keypoints and x and
    y must not be mixed up)."""
    _check_kps(kps)
    H, W = size
    pts = kps.detach().cpu()
    B, K, _ = pts.shape
    out = np.zeros((B, K, H, W), dtype=np.float32)
    for b in range(B):
        for k in range(K):
            out[b, k] = factored_targets(pts[b:b + 1, k:k + 1], size, "gaussian", sigma).dense()[0, 0].numpy()
    return torch.from_numpy(out).to(kps.device)


def binary_heatmaps(kps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Binary masks: 1 at the pixel holding each keypoint, 0 elsewhere (all 0 if the point is off the map).

    Args:
        kps: (B, K, 2) keypoints (x, y) in heatmap pixel coordinates.
        size: (H, W).
    Returns:
        (B, K, H, W) float tensor on ``kps.device``.
    """
    return factored_targets(kps, size, "binary").dense().float()            # (B, K, H, W)


def make_targets(kps: torch.Tensor, size: tuple[int, int], kind: str = "gaussian", sigma: float = 2.0) -> torch.Tensor:
    """``gaussian`` or ``binary`` heatmaps (B, K, H, W) for keypoints (B, K, 2)."""
    if kind == "gaussian":
        return gaussian_heatmaps(kps, size, sigma)
    if kind == "binary":
        return binary_heatmaps(kps, size)
    raise ValueError(f"unknown heatmap kind {kind!r}: use 'gaussian' or 'binary'")


class Factored(NamedTuple):
    """A batch of separable heatmaps ``gy[..., :, None] * gx[..., None, :]`` kept as its two 1-D factors.

    Both target kinds are separable: a Gaussian is a product of two 1-D Gaussians and a one-pixel mask a
    product of two one-hot vectors. The losses below take this form directly, so training never builds the
    (B, K, H, W) target at all: making targets costs O(B K (H + W)) instead of O(B K H W).
    """
    gy: torch.Tensor  # (B, K, H)
    gx: torch.Tensor  # (B, K, W)

    def dense(self) -> torch.Tensor:
        """The heatmaps (B, K, H, W) (for pictures and checks)."""
        return self.gy[..., :, None] * self.gx[..., None, :]


def factored_targets(kps: torch.Tensor, size: tuple[int, int], kind: str = "gaussian",
                     sigma: float = 2.0) -> Factored:
    """The targets of :func:`make_targets` as 1-D factors: ``factored_targets(...).dense()`` equals
    ``make_targets(...)``. kps (B, K, 2) -> gy (B, K, H), gx (B, K, W), on ``kps.device``."""
    _check_kps(kps)
    H, W = size
    kps = kps.float() if not kps.is_floating_point() else kps
    xs = torch.arange(W, device=kps.device, dtype=kps.dtype) + 0.5           # (W,) cell centres
    ys = torch.arange(H, device=kps.device, dtype=kps.dtype) + 0.5           # (H,)
    if kind == "gaussian":
        if sigma <= 0:
            raise ValueError(f"sigma must be > 0 pixels; got {sigma} (use kind='binary' for one-pixel targets)")
        # BEGIN SOLUTION gaussian
        c = -0.5 / sigma ** 2
        dy, dx = ys - kps[..., 1:2], xs - kps[..., 0:1]                      # (B, K, H), (B, K, W)
        return Factored(dy.mul_(dy).mul_(c).exp_(), dx.mul_(dx).mul_(c).exp_())   # in place: 4 passes each
        # END SOLUTION
    if kind == "binary":
        # BEGIN SOLUTION binary
        ij = torch.floor(kps) + 0.5                                          # (B, K, 2) centre of the cell holding it
        inside = ((ij[..., 0] >= 0) & (ij[..., 0] < W) & (ij[..., 1] >= 0) & (ij[..., 1] < H)).to(kps.dtype)
        return Factored((ys == ij[..., 1:2]).to(kps.dtype) * inside[..., None],
                        (xs == ij[..., 0:1]).to(kps.dtype))
        # END SOLUTION
    raise ValueError(f"unknown heatmap kind {kind!r}: use 'gaussian' or 'binary'")


# ---- read-out ---------------------------------------------------------------------------------------------

def soft_argmax(heatmaps: torch.Tensor, normalize: str = "softmax", temperature: float = 1.0,
                window: int | None = None) -> torch.Tensor:
    """Expected (x, y) under each heatmap, the weighted average of pixel coordinates (sub-pixel, differentiable).

    Args:
        heatmaps: (B, K, H, W). With ``normalize="softmax"`` they are logits (a network's output); with
            ``"sum"`` they are non-negative weights (e.g. target heatmaps), negatives are clipped to 0.
        temperature: softmax temperature (logits / temperature).
        window: None averages over the whole map. An integer r averages only over the (2r+1)^2 pixels around
            each map's largest pixel (a *local* soft-argmax): sub-pixel like the global one, but a second
            blob or a faint haze far from the peak (an eyebrow mistaken for an eye, mass spread over the
            background) no longer drags the estimate towards the middle of the map.
    Returns:
        (B, K, 2) float (x, y) in heatmap pixel coordinates.
    """
    B, K, H, W = heatmaps.shape
    flat = heatmaps.reshape(B, K, H * W).float()
    if normalize == "softmax":
        p = torch.softmax(flat / temperature, dim=-1)
    elif normalize == "sum":
        p = flat.clamp_min(0)
    else:
        raise ValueError(f"normalize must be 'softmax' or 'sum'; got {normalize!r}")
    xs = torch.arange(W, device=heatmaps.device, dtype=p.dtype) + 0.5        # (W,) cell centres
    ys = torch.arange(H, device=heatmaps.device, dtype=p.dtype) + 0.5        # (H,)
    if window is not None:
        if window < 0:
            raise ValueError(f"window must be a radius >= 0 pixels (or None for the whole map); got {window}")
        px, py = argmax_coords(heatmaps).to(p.dtype).unbind(-1)             # (B, K) each: the peak's cell
        near_x = ((xs - px[..., None]).abs() <= window).to(p.dtype)          # (B, K, W)
        near_y = ((ys - py[..., None]).abs() <= window).to(p.dtype)          # (B, K, H)
        p = p * (near_y[..., :, None] * near_x[..., None, :]).reshape(B, K, H * W)
    # BEGIN SOLUTION soft_argmax
    p = p / p.sum(-1, keepdim=True).clamp_min(1e-12)
    p = p.view(B, K, H, W)
    x = (p.sum(2) * xs).sum(-1)                                              # (B, K)
    y = (p.sum(3) * ys).sum(-1)                                              # (B, K)
    return torch.stack([x, y], dim=-1)
    # END SOLUTION


def argmax_coords(heatmaps: torch.Tensor) -> torch.Tensor:
    """(x, y) of the centre of each heatmap's largest pixel: (B, K, H, W) -> (B, K, 2) float."""
    B, K, H, W = heatmaps.shape
    # BEGIN SOLUTION argmax
    idx = heatmaps.reshape(B, K, H * W).argmax(-1)                           # (B, K)
    return torch.stack([idx % W, idx // W], dim=-1).float() + 0.5
    # END SOLUTION


def heatmap_loss(logits: torch.Tensor, target: torch.Tensor, loss: str = "ce") -> torch.Tensor:
    """Loss between a network's heatmaps (B, K, H, W) and targets (B, K, H, W).

    - ``"ce"``: each heatmap is a distribution over pixels (softmax of the logits); cross-entropy against the
      target normalised to sum 1 (the Gaussian, or the one-hot binary mask). Pairs with ``soft_argmax``.
    - ``"mse"``: per-pixel mean squared error between the raw outputs and the targets (the course's choice).
    - ``"bce"``: per-pixel binary cross-entropy with logits.
    Keypoints whose target is all zero (off the map) are ignored by ``ce``.
    ``target`` may be a :class:`Factored` pair (from :func:`factored_targets`): the same loss, to rounding,
    computed without the (B, K, H, W) target.
    """
    B, K, H, W = logits.shape
    if isinstance(target, Factored):
        return _factored_loss(logits, target, loss)
    if target.shape != logits.shape:
        raise ValueError(f"targets {tuple(target.shape)} must match the network output {tuple(logits.shape)}")
    if loss == "ce":
        L = logits.float()
        return _cross_entropy(L, (target * L).sum((-2, -1)), target.sum((-2, -1)))
    if loss == "mse":
        return F.mse_loss(logits, target)
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    raise ValueError(f"unknown heatmap loss {loss!r}: use 'ce', 'mse' or 'bce'")


def _cross_entropy(L: torch.Tensor, cross: torch.Tensor, mass: torch.Tensor) -> torch.Tensor:
    """The ``ce`` loss from the logits L (B, K, H, W), sum(t * L) (B, K) and sum(t) (B, K) of each target t:
    -sum t/|t| log_softmax(L) = logsumexp(L) - sum(t L)/|t|, averaged over the keypoints whose target is not
    empty (off-map keypoints carry no loss)."""
    valid = (mass > 0).float()                                               # (B, K)
    lse = torch.logsumexp(L.flatten(2), dim=-1)                              # (B, K)
    per_kp = (lse - cross / mass.clamp_min(1e-12)) * valid
    return per_kp.sum() / valid.sum().clamp_min(1.0)


def _factored_loss(logits: torch.Tensor, t: Factored, loss: str) -> torch.Tensor:
    """``heatmap_loss`` for a separable target: every term that pairs the target with the logits is the
    bilinear form gy^T L gx (B, K), and the target's own sums factor into 1-D sums."""
    B, K, H, W = logits.shape
    if t.gy.shape != (B, K, H) or t.gx.shape != (B, K, W):
        raise ValueError(f"factored targets {tuple(t.gy.shape)}, {tuple(t.gx.shape)} do not match the network "
                         f"output {tuple(logits.shape)}: expected {(B, K, H)} and {(B, K, W)}")
    L = logits.float()
    cross = torch.einsum("bkh,bkhw,bkw->bk", t.gy, L, t.gx)                 # (B, K) sum of target * logits
    if loss == "ce":
        return _cross_entropy(L, cross, t.gy.sum(-1) * t.gx.sum(-1))
    if loss == "mse":  # sum (L - t)^2 = sum L^2 - 2 sum t L + sum t^2
        tt = (t.gy ** 2).sum(-1) * (t.gx ** 2).sum(-1)
        return ((L ** 2).sum() - 2 * cross.sum() + tt.sum()) / L.numel()
    if loss == "bce":  # softplus(L) - t L, per pixel
        return (F.softplus(L).sum() - cross.sum()) / L.numel()
    raise ValueError(f"unknown heatmap loss {loss!r}: use 'ce', 'mse' or 'bce'")


def read_out(heatmaps: torch.Tensor, method: str = "soft-argmax", loss: str = "ce",
             window: int | None = None) -> torch.Tensor:
    """Keypoints (B, K, 2) from a network's heatmaps with ``soft-argmax`` or ``argmax``.

    For soft-argmax the heatmaps are read as logits after a ``ce`` loss, as sigmoid probabilities after
    ``bce`` and as raw non-negative weights after ``mse``; ``window`` (pixels) makes it local to each peak
    (see :func:`soft_argmax`).
    """
    if method == "argmax":
        return argmax_coords(heatmaps)
    if method != "soft-argmax":
        raise ValueError(f"unknown read-out {method!r}: use 'soft-argmax' or 'argmax'")
    if loss == "ce":
        return soft_argmax(heatmaps, "softmax", window=window)
    if loss == "bce":
        return soft_argmax(torch.sigmoid(heatmaps), "sum", window=window)
    return soft_argmax(heatmaps, "sum", window=window)
