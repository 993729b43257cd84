"""Keypoint metrics: NME (percent of the outer-eye-corner distance), pixel MAE, per-landmark error, the
cumulative error distribution (CED) and the mean-shape baseline.

Every function takes numpy arrays or torch tensors of keypoints in PIXELS, ``(x, y)`` order:

    pred, target: (B, K, 2)      B images, K keypoints

and returns plain Python floats / numpy arrays, so results go straight into JSON.

The normaliser of NME is the distance between the two outer eye corners of the *ground truth*, looked up in
:data:`LAYOUTS` or given by the caller (``eyes=(i, j)``) or given directly per image (``norm=(B,)``; used for
the nose-only model, whose target has one point but whose faces have eyes).

    >>> from cs180utils.keypoints import metrics
    >>> metrics.nme(pred, target, layout="300w68")          # percent
    >>> metrics.evaluate(pred, target, layout="frontal73", train_points=train_pts)   # dict with baseline
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

ArrayLike = "np.ndarray | torch.Tensor"


@dataclass(frozen=True)
class Layout:
    name: str               # key in LAYOUTS
    n_points: int           # K
    nose: int               # index of the nose tip (0-based)
    eyes: tuple[int, int]   # outer eye corners (image-left eye, image-right eye), 0-based
    description: str = ""   # where the indices come from


LAYOUTS: dict[str, Layout] = {
    # IMM Face Database, 58 points: jaw 0-12, right eye 13-20, left eye 21-28, right brow 29-33, left brow
    # 34-38, mouth 39-46, nose 47-57 (tip 52). Eye corners: the first point of each closed eye path, the
    # convention the Frontal DB's files show (its eye paths start at the outer corner). The 58-point files are
    # not in the shared data, so these two indices are the documented convention, not measured here.
    "imm58": Layout("imm58", 58, 52, (13, 21), "IMM Face DB (Stegmann 2004), 240 images of 40 people"),
    # IMM Frontal Face DB, 73 points: brows 0-15, eyes 16-23 and 24-31 (each path starts at its outer
    # corner: 16 is the leftmost point of the image-left eye, 24 the rightmost of the image-right eye in all
    # 120 files, checked by tests/keypoints/test_metrics.py), pupils 32/33, nose 34-44, nose tip 45,
    # lips 46-61, jaw 62-72.
    "frontal73": Layout("frontal73", 73, 45, (16, 24), "IMM Frontal Face DB, 120 images of 12 people"),
    # iBUG 300-W / Multi-PIE 68 points: jaw 0-16, brows 17-26, nose 27-35 (tip 30), eyes 36-41 / 42-47
    # (outer corners 36 and 45), mouth 48-67.
    "300w68": Layout("300w68", 68, 30, (36, 45), "iBUG 300-W, 68-point Multi-PIE markup"),
}


def get_layout(layout: "str | int | Layout") -> Layout:
    """A :class:`Layout` from its name (``"imm58"``, ``"frontal73"``, ``"300w68"``) or its point count."""
    if isinstance(layout, Layout):
        return layout
    if isinstance(layout, (int, np.integer)):
        for lay in LAYOUTS.values():
            if lay.n_points == int(layout):
                return lay
        raise ValueError(f"no keypoint layout with {layout} points; known: "
                         + ", ".join(f"{l.name} ({l.n_points})" for l in LAYOUTS.values()))
    try:
        return LAYOUTS[str(layout).lower()]
    except KeyError:
        raise ValueError(f"unknown keypoint layout {layout!r}; known: {', '.join(LAYOUTS)}") from None


def _as_points(x, name: str) -> torch.Tensor:
    """(B, K, 2) float64 tensor from array/tensor of shape (B, K, 2), (K, 2) or (B, 2K)."""
    t = torch.as_tensor(np.asarray(x.detach().cpu()) if isinstance(x, torch.Tensor) else np.asarray(x),
                        dtype=torch.float64)
    if t.ndim == 2 and t.shape[-1] == 2:
        t = t[None]
    elif t.ndim == 2 and t.shape[-1] % 2 == 0:
        t = t.reshape(t.shape[0], -1, 2)
    if t.ndim != 3 or t.shape[-1] != 2:
        raise ValueError(f"{name} must hold keypoints of shape (B, K, 2) in pixels, got {tuple(t.shape)}")
    return t


def _check(pred, target) -> tuple[torch.Tensor, torch.Tensor]:
    p, t = _as_points(pred, "pred"), _as_points(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"pred {tuple(p.shape)} and target {tuple(t.shape)} must have the same shape (B, K, 2)")
    return p, t


def eye_distance(points, eyes: "tuple[int, int] | None" = None, layout=None) -> np.ndarray:
    """Distance between the outer eye corners of each face, ``(B,)`` pixels.

    points: (B, K, 2) ground-truth keypoints; ``eyes`` indices or a ``layout`` name to look them up.
    """
    p = _as_points(points, "points")
    i, j = _eyes(eyes, layout, p.shape[1])
    d = (p[:, i] - p[:, j]).norm(dim=-1)
    if (d <= 0).any():
        raise ValueError("outer eye corners coincide in some face: wrong eye indices for this layout?")
    return d.numpy()


def _eyes(eyes, layout, k: int) -> tuple[int, int]:
    if eyes is None:
        eyes = get_layout(layout if layout is not None else k).eyes
    i, j = int(eyes[0]), int(eyes[1])
    if not (0 <= i < k and 0 <= j < k):
        raise ValueError(f"eye indices {eyes} out of range for {k} keypoints")
    return i, j


def point_errors(pred, target) -> np.ndarray:
    """Euclidean error of every keypoint, ``(B, K)`` pixels."""
    p, t = _check(pred, target)
    return (p - t).norm(dim=-1).numpy()


def _norm(target, eyes, layout, norm) -> np.ndarray:
    if norm is not None:
        n = np.asarray(norm.detach().cpu() if isinstance(norm, torch.Tensor) else norm, dtype=np.float64)
        return n.reshape(-1)
    return eye_distance(target, eyes, layout)


def nme_per_image(pred, target, eyes=None, layout=None, norm=None) -> np.ndarray:
    """Per-image NME in percent, ``(B,)``: mean point error / outer-eye-corner distance * 100.

    ``norm`` (B,) overrides the normaliser (e.g. eye distance of full faces for a nose-only target).
    """
    err = point_errors(pred, target)                       # (B, K)
    n = _norm(target, eyes, layout, norm)                   # (B,)
    if n.shape[0] != err.shape[0]:
        raise ValueError(f"norm has {n.shape[0]} entries for {err.shape[0]} images")
    return 100.0 * err.mean(axis=1) / n


def nme(pred, target, eyes=None, layout=None, norm=None) -> float:
    """Mean NME over images, percent (outer-eye-corner normalisation). See :func:`nme_per_image`."""
    return float(nme_per_image(pred, target, eyes, layout, norm).mean())


def mae_px(pred, target) -> float:
    """Mean absolute error of the coordinates in pixels: mean over B, K and (x, y) of |pred - target|."""
    p, t = _check(pred, target)
    return float((p - t).abs().mean())


def per_landmark_error(pred, target, eyes=None, layout=None, norm=None, normalise: bool = True) -> np.ndarray:
    """Mean error of each keypoint over images, ``(K,)``: percent of eye distance (or pixels)."""
    err = point_errors(pred, target)                       # (B, K)
    if normalise:
        err = 100.0 * err / _norm(target, eyes, layout, norm)[:, None]
    return err.mean(axis=0)


def ced_curve(nme_values, max_error: float = 20.0, steps: int = 201) -> dict:
    """Cumulative error distribution of per-image errors (e.g. :func:`nme_per_image`).

    Returns ``{"thresholds": (steps,), "fraction": (steps,), "auc": float, "failure_rate": float}``: the
    fraction of images with error <= each threshold, the area under the curve up to ``max_error`` divided by
    ``max_error`` (1 = perfect), and the fraction of images above ``max_error``.
    """
    e = np.asarray(nme_values, dtype=np.float64).reshape(-1)
    if e.size == 0:
        raise ValueError("ced_curve needs at least one error value")
    thr = np.linspace(0.0, max_error, steps)
    frac = (e[None, :] <= thr[:, None]).mean(axis=1)
    auc = float(np.trapezoid(frac, thr) / max_error) if hasattr(np, "trapezoid") else float(
        np.trapz(frac, thr) / max_error)
    return {"thresholds": thr, "fraction": frac, "auc": auc, "failure_rate": float((e > max_error).mean())}


def mean_shape(train_points) -> np.ndarray:
    """The mean-shape baseline's prediction: the average training shape, ``(K, 2)``."""
    return _as_points(train_points, "train_points").mean(dim=0).numpy()


def baseline_predictions(train_points, n: int) -> np.ndarray:
    """The mean training shape repeated for ``n`` images, ``(n, K, 2)`` (predict the training mean)."""
    m = mean_shape(train_points)
    return np.broadcast_to(m, (n,) + m.shape).copy()


def evaluate(pred, target, eyes=None, layout=None, norm=None, train_points=None) -> dict:
    """Headline numbers of one evaluation: ``nme``, ``mae_px``, ``n_images`` and, when ``train_points`` (N, K, 2)
    are given, ``baseline_nme`` and ``baseline_mae_px`` of the mean training shape on the same images.

    All coordinates in the same pixel frame (e.g. the original image, or the network's input size).
    """
    p, t = _check(pred, target)
    out = {"nme": nme(p, t, eyes, layout, norm), "mae_px": mae_px(p, t), "n_images": int(p.shape[0])}
    if train_points is not None:
        b = baseline_predictions(train_points, p.shape[0])
        out["baseline_nme"] = nme(b, t, eyes, layout, norm)
        out["baseline_mae_px"] = mae_px(b, t)
    return out
