"""The studies of notebook 01 built on :mod:`experiment`'s fits: the L x D grid, and fitting on every other pixel
to see what a field does between the pixels it was trained on (where float32's broken high frequencies show).
Every fit is a :func:`experiment.cached_fit`: trained once, then loaded from its run folder."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cs180utils.field2d.experiment import FitConfig, FitResult, cached_fit
from cs180utils.field2d.images import as_float_image
from cs180utils.field2d.model import render
from cs180utils.images import mse_to_psnr, to_uint8
from cs180utils.settings import replace


def fit_grid(image, Ls, widths, base: FitConfig, label: str = "grid",
             progress: bool = True) -> dict[tuple[int, int], FitResult]:
    """One cached fit per ``(L, D)`` in ``Ls x widths`` (everything else from ``base``)."""
    return {(L, D): cached_fit(image, replace(base, L=L, width=D), label, progress=progress)
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


def fit_heldout(image, cfg: FitConfig, label: str = "heldout", progress: bool = True) -> HeldOut:
    """Fit on every other pixel in both directions; PSNR on those and on the 3/4 never seen."""
    train, full = split_even(image)
    fit = cached_fit(train, cfg, label, progress=progress)
    h, w = full.shape[:2]
    model = fit.model
    out = render(model, h, w, chunk=cfg.chunk).double().cpu().numpy()  # (H, W, 3)
    seen = np.zeros((h, w), bool)
    seen[::2, ::2] = True
    err = (out - full) ** 2  # (H, W, 3)
    lin = (linear_fill(train, h, w) - full) ** 2
    return HeldOut(fit=fit, render=to_uint8(out), train_psnr=mse_to_psnr(err[seen].mean()),
                   heldout_psnr=mse_to_psnr(err[~seen].mean()), linear_psnr=mse_to_psnr(lin[~seen].mean()))

