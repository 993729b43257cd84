"""The experiments of notebook 01, as functions: the L x D grid, and fitting on half the pixels to see what
a field does between the pixels it was trained on (where float32's broken high frequencies show)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from cs180utils.field2d.images import as_float_image
from cs180utils.field2d.model import mse_to_psnr, render
from cs180utils.field2d.train import FitConfig, FitResult, cached_fit, replace, to_uint8


def fit_grid(image, Ls, widths, base: FitConfig, cache_dir: str | os.PathLike | None = None,
             progress: bool = True) -> dict[tuple[int, int], FitResult]:
    """One cached fit per ``(L, D)`` in ``Ls x widths`` (everything else from ``base``)."""
    return {(L, D): cached_fit(image, replace(base, L=L, width=D), cache_dir=cache_dir, progress=progress)
            for L in Ls for D in widths}


@dataclass
class HeldOut:
    """A field fitted on the pixels with even row and column, rendered at every pixel."""
    fit: FitResult           # the fit on the (H/2, W/2) image of even pixels
    render: np.ndarray       # (H, W, 3) uint8: the field at every pixel of the full image
    train_psnr: float        # on the pixels it was trained on (1/4 of them)
    heldout_psnr: float      # on the other 3/4, which it never saw
    linear_psnr: float       # what linear interpolation of the seen pixels scores on the unseen ones (reference)


def split_even(image) -> tuple[np.ndarray, np.ndarray]:
    """Crop to even size; returns ``(train (H/2, W/2, 3), full (H, W, 3))`` with ``train = full[::2, ::2]``.

    Pixel ``(u', v')`` of ``train`` has the course's coordinates ``(u'/(W/2), v'/(H/2)) = (2u'/W, 2v'/H)``,
    exactly those of pixel ``(2u', 2v')`` of ``full``: a field fitted to ``train`` and rendered on the
    full grid predicts the in-between pixels it never saw.
    """
    full = as_float_image(image)
    h, w = full.shape[0] // 2 * 2, full.shape[1] // 2 * 2
    full = full[:h, :w]
    return np.ascontiguousarray(full[::2, ::2]), full


def linear_fill(train: np.ndarray, height: int, width: int) -> np.ndarray:
    """Fill the full ``(H, W, 3)`` grid from ``train = full[::2, ::2]`` by linear interpolation (the last odd
    row/column, which has no right/lower neighbour, copies its left/upper one)."""
    out = np.zeros((height, width, 3), np.float64)
    out[::2, ::2] = train
    right = np.concatenate([train[:, 1:], train[:, -1:]], axis=1)  # (H/2, W/2, 3) neighbour to the right
    out[::2, 1::2] = (train + right) / 2
    below = np.concatenate([out[2::2], out[-2:-1]], axis=0)  # even rows shifted up by one even row
    out[1::2] = (out[::2] + below) / 2
    return out


def fit_heldout(image, cfg: FitConfig, cache_dir: str | os.PathLike | None = None,
                progress: bool = True) -> HeldOut:
    """Fit on every other pixel in both directions; PSNR on those and on the 3/4 never seen."""
    train, full = split_even(image)
    fit = cached_fit(train, cfg, cache_dir=cache_dir, progress=progress)
    h, w = full.shape[:2]
    model = fit.model
    out = render(model, h, w, chunk=cfg.chunk).double().cpu().numpy()  # (H, W, 3)
    seen = np.zeros((h, w), bool)
    seen[::2, ::2] = True
    err = (out - full) ** 2  # (H, W, 3)
    lin = (linear_fill(train, h, w) - full) ** 2
    return HeldOut(fit=fit, render=to_uint8(out), train_psnr=mse_to_psnr(err[seen].mean()),
                   heldout_psnr=mse_to_psnr(err[~seen].mean()), linear_psnr=mse_to_psnr(lin[~seen].mean()))


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
