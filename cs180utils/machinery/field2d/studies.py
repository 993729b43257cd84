"""The studies of notebook 01 built on :mod:`experiment`'s fits: the L x D grid, fitting on every other pixel
to see what a field does between the pixels it was trained on (where float32's broken high frequencies show),
and the write-up's own sweep (:class:`SweepConfig`: L at D = 256, D at L = 55) scored both ways.
Every fit is a :func:`experiment.cached_fit`: trained once, then loaded from its run folder."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cs180utils.machinery.field2d.experiment import FitConfig, FitResult, cached_fit
from cs180utils.field2d.images import as_float_image
from cs180utils.field2d.model import render
from cs180utils.images import mse_to_psnr, to_uint8
from cs180utils.machinery.settings import make_config, replace


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



@dataclass
class SweepConfig:
    """The write-up's sweep: L over ``Ls`` at width ``L_width``, and D over ``widths`` at ``widths_L``; every
    cell fitted on the even pixels (:func:`fit_heldout`) so it is scored on the pixels it saw (the write-up's
    number) and on those it did not."""
    Ls: tuple[int, ...] = (20, 25, 30, 35, 45, 55)   # the write-up's L values ...
    L_width: int = 256                               # ... at this width D
    widths: tuple[int, ...] = (32, 64, 128, 256)     # the write-up's D values ...
    widths_L: int = 55                               # ... at this L
    image_size: int | None = None   # the image's longer side before taking every other pixel (None: as is)
    steps: int = 2000               # optimisation steps of every cell
    batch_size: int = 10_000        # pixels per step
    fit: dict = field(default_factory=dict)  # any other FitConfig settings (lr, depth, dtype, ...) for every cell

    def cells(self) -> list[tuple[int, int]]:
        """The ``(L, D)`` pairs to fit: the L sweep, then the D sweep (their shared cell once)."""
        pairs = [(L, self.L_width) for L in self.Ls] + [(self.widths_L, D) for D in self.widths]
        return list(dict.fromkeys(pairs))

    def fit_config(self, base: FitConfig, L: int, D: int) -> FitConfig:
        """``base`` with this sweep's image size, steps, batch and ``fit`` settings, at ``(L, D)``."""
        return replace(base, **self.fit, image_size=self.image_size, steps=self.steps, batch_size=self.batch_size,
                       eval_every=self.steps, snapshot_steps=(), L=L, width=D, encoding="pe")


# profile -> the settings that differ from SweepConfig's defaults (full: the write-up's grid on the whole image)
SWEEP_PRESETS = {
    "smoke": dict(Ls=(20, 55), L_width=64, widths=(16, 64), image_size=32, steps=30, batch_size=512),
    "cpu": dict(image_size=128, steps=300, batch_size=2048),
    "full": dict(),
}


def sweep_config(profile: str | None = None, **overrides) -> SweepConfig:
    """The sweep's preset for ``profile`` (default: the active one) with ``overrides`` (UNSET ones ignored)."""
    return make_config(SweepConfig, SWEEP_PRESETS, profile, **overrides)


def fit_sweep(image, sweep: SweepConfig, base: FitConfig, label: str = "sweep",
              progress: bool = True) -> dict[tuple[int, int], HeldOut]:
    """One cached :func:`fit_heldout` per cell of ``sweep`` on ``image`` (already at ``sweep.image_size``);
    everything not set by the sweep comes from ``base``. Returns ``{(L, D): HeldOut}``."""
    return {(L, D): fit_heldout(image, sweep.fit_config(base, L, D), label, progress=progress)
            for L, D in sweep.cells()}
