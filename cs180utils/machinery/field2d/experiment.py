"""The 2-D neural field as one experiment: its settings (:class:`FitConfig` and its presets per profile), the
model, fitting on the workbook's one training loop, the whole-image PSNR, and the run folder that notebook 01
and ``python -m cs180utils train field2d`` share.

    >>> from cs180utils.field2d import experiment
    >>> cfg = experiment.config("cpu", steps=1000)           # the profile's preset, then overrides
    >>> image, name = experiment.load("hopper", cfg)         # (H, W, 3) float in [0, 1], longer side <= image_size
    >>> result = experiment.cached_fit(image, cfg, name)     # trains once; later calls (and the CLI) load it
    >>> result.psnr, result.history["psnr"], result.snapshots[0]

A fit draws random batches of pixels and minimises their MSE (the course's step,
:func:`cs180utils.field2d.steps.pixel_step`) with Adam at a constant learning rate, and
evaluates the PSNR of the whole image every ``eval_every`` steps (and after each of ``snapshot_steps``, whose
renders it keeps). With a checkpoint it resumes where it stopped; :func:`cached_fit` puts the checkpoint in
:func:`run_folder` (``runs/field2d/<image name>-<hash of the settings and the image>``), so a finished fit,
from the notebook or the command line, is loaded instead of trained again.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Literal
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cs180utils.machinery import config as _config
from cs180utils.machinery import distributed, settings, training
from cs180utils.field2d import steps
from cs180utils.field2d.images import as_float_image, image_digest, image_to_targets
from cs180utils.machinery.sources import load_image
from cs180utils.field2d.model import NeuralField2D, render
from cs180utils.grid_encoding import GridEncoding
from cs180utils.images import mse_to_psnr, psnr, to_uint8

ENCODINGS = ("pe", "grid")   # FitConfig.encoding
# snapshot steps when FitConfig.snapshot_steps is None: these below `steps`, and the last step
DEFAULT_SNAPSHOTS = (0, 50, 100, 200, 500, 1000, 2000, 5000)


@dataclass
class FitConfig:
    image_size: int | None = None   # the image's longer side is downscaled to at most this many pixels (None: as is)
    L: int = 10                     # positional-encoding frequencies (2-D input -> 2 (2L + 1) numbers)
    width: int = 256                # hidden width D of the MLP
    depth: int = 4                  # Linear layers in the MLP (the course's figure has 4)
    steps: int = 2000               # optimisation steps (one random batch of pixels each)
    batch_size: int = 10_000        # pixels per step (sampled uniformly with replacement)
    lr: float = 1e-2                # Adam learning rate (constant)
    max_seconds: float | None = None  # stop once training has taken this many seconds (None: no cap)
    eval_every: int = 100           # whole-image PSNR every this many steps (and at the last step)
    snapshot_steps: tuple[int, ...] | None = None  # steps whose whole render is kept (0: the initial model);
    #                                                None: those of DEFAULT_SNAPSHOTS below `steps`, and the last
    seed: int = 0                   # seeds the initialisation and the pixel sampling
    chunk: int = 1 << 16            # pixels per forward pass when rendering the whole image
    dtype: Literal["float32", "float64"] = "float32"  # "float32" or "float64" (see notebook 01 on precision)
    encoding: Literal[ENCODINGS] = "pe"  # "pe": the course's positional encoding; "grid": a multiresolution
    #                                 grid (Instant-NGP, cs180utils.grid_encoding; its presets: PRESETS["grid"])
    grid_levels: int = 8            # grid: number of resolutions
    grid_features: int = 2          # grid: learned numbers per vertex and level
    grid_base: int = 16             # grid: coarsest resolution (vertices per side)
    grid_finest: int | None = None  # grid: finest resolution (None: the image's longer side, one vertex a pixel)
    grid_log2_hashmap: int | None = 18  # grid: levels with more than 2^this vertices are hashed (None: all dense)

    def __post_init__(self):
        settings.check(self, positive=("steps", "batch_size", "eval_every", "width", "depth", "chunk", "lr",
                                       "max_seconds", "grid_levels", "grid_features", "grid_log2_hashmap"),
                       nonnegative=("L", "seed", "snapshot_steps"))
        if self.image_size is not None and self.image_size < 2:
            raise settings.SettingError("image_size", f"must be at least 2 pixels, got {self.image_size} (or none: "
                                                      f"the image as it is)")
        if self.grid_base < 2 or (self.grid_finest is not None and self.grid_finest < self.grid_base):
            raise settings.SettingError("grid_base", f"needs 2 <= grid_base <= grid_finest, got grid_base="
                                                     f"{self.grid_base}, grid_finest={self.grid_finest}")
        if self.snapshot_steps is not None:
            self.snapshot_steps = tuple(sorted({int(s) for s in self.snapshot_steps}))

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    def snapshots(self) -> tuple[int, ...]:
        """The steps whose render a fit keeps (``snapshot_steps``, or the default rule)."""
        if self.snapshot_steps is not None:
            return self.snapshot_steps
        return tuple(s for s in DEFAULT_SNAPSHOTS if s < self.steps) + (self.steps,)


# Per encoding, one table: per profile, the settings that differ from FitConfig's defaults (the course's model, Adam
# 1e-2, 10^4 pixels). "grid": a grid stores the image in its tables, so a small MLP (64 x 2 layers) suffices. lr
# 2e-2: at equal steps on hopper it led 1e-2 by 3.2 / 1.4 / 0.4 dB after 50 / 100 / 200 steps (30 dB after about
# 100). cpu: 600 steps (about 40 s on 2 idle cores by the PE step time and the benchmark's ratio), capped at the
# one-minute budget
_PE = {"smoke": dict(image_size=64, width=64, steps=100, batch_size=2048, eval_every=50),
       "cpu": dict(steps=800, eval_every=200),
       "full": dict(steps=3000, eval_every=100)}
_GRID = {"smoke": dict(width=32, depth=2, lr=2e-2, steps=100, eval_every=50),
         "cpu": dict(width=64, depth=2, lr=2e-2, steps=600, eval_every=25, max_seconds=60.0),
         "full": dict(width=64, depth=2, lr=2e-2, steps=1000, eval_every=50)}
PRESETS = {"pe": _PE, "grid": {p: {**_PE[p], **_GRID[p], "encoding": "grid"} for p in _PE}}


def config(profile: str | None = None, **overrides) -> FitConfig:
    """The preset of ``profile`` (default: the active one) for the encoding of ``overrides`` (``encoding="grid"``:
    :data:`PRESETS`' grid table; else its pe one), with ``overrides`` (UNSET ones ignored)."""
    encoding = overrides.get("encoding") or "pe"
    return settings.make_config(FitConfig, PRESETS.get(encoding, PRESETS["pe"]), profile, **overrides)


def describe(cfg: FitConfig) -> str:
    """A short name of the model, for titles: ``"L=10, D=256"`` or ``"grid 8x2 from 16, D=64"``."""
    if cfg.encoding == "grid":
        return f"grid {cfg.grid_levels}x{cfg.grid_features} from {cfg.grid_base}, D={cfg.width}"
    return f"L={cfg.L}, D={cfg.width}"


@dataclass
class FitResult:
    model: nn.Module                        # the trained field (on the device it was trained on)
    config: FitConfig
    psnr: float                             # whole image, final model, dB
    seconds: float                          # training time (excluding whole-image evaluations)
    history: dict[str, list] = field(default_factory=dict)
    # history: "step", "psnr" (whole image), "seconds" (cumulative training time at that step),
    #          "train_psnr" (mean batch MSE since the previous entry, as dB; NaN where no step was taken)
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)  # step -> (H, W, 3) uint8 render
    final: np.ndarray | None = None         # (H, W, 3) uint8 render of the final model
    cached: bool = False                    # a finished run loaded from its checkpoint rather than trained now
    steps: int = 0                          # steps done (fewer than config.steps when max_seconds stopped it)
    resumed_from: int = 0                   # the step this call started at (0: a new fit)


def load(source=None, cfg: FitConfig | None = None, data_dir: str | os.PathLike | None = None
         ) -> tuple[np.ndarray, str]:
    """The image to fit: ``images.load_image(source)`` downscaled to ``cfg.image_size``. Returns
    ``(image (H, W, 3) float32 in [0, 1], name)``."""
    return load_image(source, image_size=(cfg or FitConfig()).image_size, data_dir=data_dir)


def build(cfg: FitConfig, image_shape: tuple[int, int] | None = None) -> NeuralField2D:
    """The field of ``cfg``, seeded with ``cfg.seed``, in ``cfg.dtype``: the course's (PE with ``L``
    frequencies, ``depth`` Linear layers of ``width``), or with ``encoding="grid"`` a multiresolution grid
    (:class:`cs180utils.grid_encoding.GridEncoding`) before the MLP. ``image_shape`` ``(H, W)``: the image's,
    which sets the finest grid resolution when ``cfg.grid_finest`` is None."""
    _config.seed_everything(cfg.seed)
    encoding = None
    if cfg.encoding == "grid":
        finest = cfg.grid_finest
        if finest is None:
            if image_shape is None:
                raise ValueError("build(cfg) with encoding='grid' and grid_finest=None needs the image's shape: "
                                 "build(cfg, image.shape[:2]), or set grid_finest")
            finest = max(cfg.grid_base, *image_shape[:2])
        encoding = GridEncoding(2, n_levels=cfg.grid_levels, features_per_level=cfg.grid_features,
                                base_resolution=cfg.grid_base, finest_resolution=finest,
                                log2_hashmap_size=cfg.grid_log2_hashmap, init_scale=1e-2)
    return NeuralField2D(encoding=encoding, L=cfg.L, width=cfg.width, depth=cfg.depth).to(cfg.torch_dtype)


@torch.no_grad()
def evaluate(model: nn.Module, image, chunk: int = 1 << 16) -> tuple[float, np.ndarray]:
    """PSNR of the whole render against ``image`` (``(H, W, 3)``); returns ``(psnr, render (H, W, 3) uint8)``."""
    target = as_float_image(image)
    out = render(model, *target.shape[:2], chunk=chunk).cpu()  # (H, W, 3)
    return psnr(out, target), to_uint8(out)


def run_folder(cfg: FitConfig, image, label: str) -> Path:
    """``runs/field2d/<label>-<hash>``: the run folder of fitting ``image`` with ``cfg`` (the one rule,
    :func:`cs180utils.machinery.training.run_dir`, with the image's content as the data)."""
    return training.run_dir("field2d", label, cfg, data=image_digest(as_float_image(image)))


def fit(image, cfg: FitConfig | None = None, model: nn.Module | None = None, *,
        device: str | torch.device | None = None, progress: bool = True,
        checkpoint: str | os.PathLike | None = None, resume: bool = True) -> FitResult:
    """Fit a neural field to ``image`` (``(H, W, 3)``, uint8 or float in [0, 1]).

    Args:
        cfg: the settings (default ``FitConfig()``, the course's); the image must already be at most
            ``cfg.image_size`` on its longer side (:func:`load` does that).
        model: a ready model mapping ``(R, 2) -> (R, 3)``; default :func:`build` ``(cfg)``.
        device: default: the best available (``config.pick_device``).
        checkpoint: a file saved at every evaluation and at the end; if it exists the fit resumes from it (same
            image and settings; ``steps`` may be raised to train on), and a finished fit is returned as it is.
        resume: False starts over, overwriting ``checkpoint``.

    Returns a :class:`FitResult`; ``history`` lists the whole-image PSNR against training seconds.
    """
    cfg = cfg or FitConfig()
    target = as_float_image(image)  # (H, W, 3) float32
    img_h, img_w = target.shape[:2]
    if cfg.image_size is not None and max(img_h, img_w) > cfg.image_size:
        raise ValueError(f"the image is {img_h} x {img_w} but image_size is {cfg.image_size}: load it with "
                         f"experiment.load(source, cfg), or set image_size=None to fit it as it is")
    dev = _config.pick_device(str(device) if device is not None else None)
    _config.check_fits(cfg.torch_dtype.itemsize * (cfg.batch_size * cfg.width * (cfg.depth + 1) + 5 * img_h * img_w),
                       f"a step of {cfg.batch_size} pixels through {cfg.depth} x {cfg.width} (and the "
                       f"{img_h} x {img_w} image)", "--batch-size, --width or --image-size", dev)
    coords, colors = image_to_targets(target, dtype=cfg.torch_dtype, device=dev)  # (P, 2), (P, 3)

    _config.seed_everything(cfg.seed)
    model = (model if model is not None else build(cfg, (img_h, img_w))).to(device=dev, dtype=cfg.torch_dtype).train()
    # a grid's tables are most of its parameters and Adam updates all of them every step: the fused kernel does it
    # in one pass (about 6x faster than the default on 2 CPU cores, benchmarks/field2d.py); PE keeps the default
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=cfg.encoding == "grid" or None)
    gen = torch.Generator().manual_seed(cfg.seed)  # pixel sampling (on the CPU: the same batches on every device)
    snapshot_steps = set(cfg.snapshots())
    losses: list[torch.Tensor] = []  # batch losses since the last evaluation

    def step_fn(step: int) -> torch.Tensor:   # the course's step (field2d/steps.py); keeps its loss for train_psnr
        loss = steps.pixel_step(model, coords, colors, cfg.batch_size, gen)
        losses.append(loss.detach())
        return loss

    # renders ride along with the checkpoint: "final" (the latest) and "snapshot <step>"
    extra: dict = {}

    def evaluate_fn(step: int) -> dict:
        value, out = evaluate(model, target, cfg.chunk)
        extra["final"] = out
        if step in snapshot_steps:
            extra[f"snapshot {step}"] = out
        metrics = {"psnr": value}
        if losses:
            metrics["train_psnr"] = mse_to_psnr(float(torch.stack(losses).mean()))
            losses.clear()
        return metrics

    path = Path(checkpoint) if checkpoint is not None else None
    if 0 in snapshot_steps and not (resume and path is not None and path.is_file()):
        extra["snapshot 0"] = to_uint8(render(model, img_h, img_w, chunk=cfg.chunk))
    loop = training.LoopConfig(steps=cfg.steps, max_seconds=cfg.max_seconds, eval_every=cfg.eval_every,
                               eval_at=tuple(s for s in snapshot_steps if s >= 1))
    distributed.single_process("the 2-D field")
    res = training.train_loop(model, opt, step_fn, loop, evaluate=evaluate_fn, checkpoint=path,
                              identity={"config": settings.config_dict(cfg), "data": image_digest(target)},
                              rngs={"pixels": gen}, extra=extra, resume=resume, progress=progress,
                              desc=f"field2d {describe(cfg)}")
    evals = res.history["eval"]
    history = {"step": [e["step"] for e in evals], "psnr": [e["psnr"] for e in evals],
               "seconds": [e["seconds"] for e in evals],
               "train_psnr": [e.get("train_psnr", math.nan) for e in evals]}
    snapshots = {int(k.split()[1]): v for k, v in res.extra.items() if k.startswith("snapshot ")}
    return FitResult(model=model, config=cfg, psnr=res.final["psnr"], seconds=res.seconds, history=history,
                     snapshots=dict(sorted(snapshots.items())), final=res.extra.get("final"),
                     cached=res.resumed_from > 0 and res.resumed_from == res.step, steps=res.step,
                     resumed_from=res.resumed_from)


def cached_fit(image, cfg: FitConfig, label: str = "image", *, device: str | torch.device | None = None,
               progress: bool = True, refit: bool = False) -> FitResult:
    """:func:`fit` with its checkpoint in :func:`run_folder` ``(cfg, image, label)``: a fit finished before
    (here or by ``train field2d`` on the same image, with the same settings) is loaded instead of trained, an
    interrupted one resumes. ``refit`` starts over."""
    folder = run_folder(cfg, image, label)
    return fit(image, cfg, device=device, progress=progress, checkpoint=folder / training.CHECKPOINT,
               resume=not refit)
