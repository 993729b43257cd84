"""Figures of notebooks 05-09: faces with keypoints, loss curves, best/worst predictions, learned filters,
predictions on your own photos.

Every function draws into new matplotlib axes and returns the figure (the caller saves, shows and closes it).
Images are (H, W) or (1, H, W) arrays/tensors in [-0.5, 0.5] or [0, 255]; keypoints are continuous pixel
coordinates of that image (see :mod:`cs180utils.keypoints`): the image is drawn over [0, W] x [0, H].
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch


def _img(x) -> np.ndarray:
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return a.reshape(a.shape[-2:]) if a.ndim == 3 else a


def _pts(x) -> np.ndarray:
    return (x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)).reshape(-1, 2)


def show_faces(images: Sequence, keypoints: Sequence, titles: Sequence[str] | None = None,
               pred: Sequence | None = None, highlight: Sequence[int] = (), ncols: int = 4,
               size: float = 3.0, point_size: float = 8.0):
    """A grid of faces with ground-truth keypoints (green) and, if given, predictions (red).

    images: N images (H, W); keypoints / pred: N arrays (K, 2) in pixels of those images;
    highlight: indices drawn larger in yellow (e.g. the nose tip and eye corners).
    """
    n = len(images)
    ncols = min(ncols, n)
    nrows = (n + ncols - 1) // ncols
    img0 = _img(images[0])
    aspect = img0.shape[0] / img0.shape[1]
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * aspect * nrows + 0.4 * nrows),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        ax = axes.ravel()[i]
        im = _img(images[i])
        # the datasets' float images live in [-0.5, 0.5]: a fixed range, so a brightness change shows
        lo, hi = (-0.5, 0.5) if im.dtype.kind == "f" and im.min() >= -0.5 - 1e-6 and im.max() <= 0.5 + 1e-6 else (None, None)
        ax.imshow(im, cmap="gray", vmin=lo, vmax=hi, extent=(0, im.shape[1], im.shape[0], 0))   # continuous pixels
        k = _pts(keypoints[i])
        ax.scatter(k[:, 0], k[:, 1], s=point_size, c="lime", label="truth")
        if len(highlight):
            h = k[list(highlight)]
            ax.scatter(h[:, 0], h[:, 1], s=point_size * 4, c="yellow", edgecolors="k", linewidths=0.5)
        if pred is not None:
            p = _pts(pred[i])
            ax.scatter(p[:, 0], p[:, 1], s=point_size, c="red", marker="x", label="prediction")
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    if pred is not None:
        axes.ravel()[0].legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    return fig


def plot_history(histories: dict, keys: Sequence[str] = ("train_loss", "val_loss"), log: bool = True,
                 title: str = "MSE loss"):
    """Loss curves of one or more runs: ``histories`` maps a label to a per-epoch history (lists under ``epoch``
    and ``keys``, as :attr:`cs180utils.machinery.keypoints.experiment_imm.ImmRun.history`)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, h in histories.items():
        for key, style in zip(keys, ("-", "--", ":")):
            if key in h:
                ax.plot(h["epoch"], h[key], style, label=f"{label} {key.replace('_', ' ')}")
    ax.set_xlabel("epoch")
    ax.set_title(title)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def best_and_worst(errors, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``k`` smallest and ``k`` largest errors (per-image, e.g. NME)."""
    order = np.argsort(np.asarray(errors))
    return order[:k], order[::-1][:k]


def show_filters(weight: torch.Tensor, ncols: int = 8, size: float = 1.2):
    """The first convolution's filters, one small image each: weight (C_out, 1, k, k)."""
    w = weight.detach().cpu()
    if w.ndim != 4:
        raise ValueError(f"expected conv weights (C_out, C_in, k, k), got {tuple(w.shape)}")
    w = w[:, 0]
    n = w.shape[0]
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    lim = float(w.abs().max())
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        axes.ravel()[i].imshow(w[i].numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
    fig.suptitle("first-layer filters (red +, blue -)", fontsize=9)
    fig.tight_layout()
    return fig


def show_photo_results(results: Sequence, picks: Sequence[tuple[str, int]], size: float = 4.0):
    """Predictions on photos (:class:`cs180utils.machinery.keypoints.photos.PhotoResult`), one panel per pick
    ``(label, index)``: the photo zoomed to its face box (grown by half its side), the box (yellow), the
    prediction (red) and the mirror image's prediction mirrored back (cyan); the title gives the label, the
    mirror disagreement and how the face was found (with the detector's weight)."""
    fig, axes = plt.subplots(1, len(picks), figsize=(size * len(picks), size + 0.6), squeeze=False)
    for ax, (label, i) in zip(axes[0], picks):
        r = results[i]
        left, top, w, h = r.box
        ax.imshow(r.photo.image, extent=(0, r.photo.image.shape[1], r.photo.image.shape[0], 0))   # continuous px
        ax.add_patch(plt.Rectangle((left, top), w, h, fill=False, ec="yellow", lw=1))
        ax.scatter(*np.asarray(r.mirrored).T, s=6, c="cyan", label="mirror image's, mirrored back")
        ax.scatter(*np.asarray(r.keypoints).T, s=6, c="red", label="prediction")
        pad = 0.5 * max(w, h)
        ax.set_xlim(left - pad, left + w + pad)
        ax.set_ylim(top + h + pad, top - pad)
        how = r.how + ("" if np.isnan(r.detector) else f", weight {r.detector:.1f}")
        ax.set_title(f"{label}: {r.photo.name}\nmirror disagreement {r.disagreement:.1f} % ({how})", fontsize=8)
        ax.axis("off")
    axes[0, 0].legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    return fig
