"""Fitting a 2-D neural field to one image: random pixel batches, MSE, Adam; PSNR of the whole image.

    >>> from cs180utils.field2d import FitConfig, fit_image, load_image
    >>> image, _ = load_image()                                    # (H, W, 3) float in [0, 1]
    >>> result = fit_image(image, FitConfig(L=10, width=256, steps=1000))
    >>> result.psnr, result.history["psnr"], result.history["seconds"]

``fit_image`` also takes a ready model (any encoding, see ``model.NeuralField2D``), can checkpoint and
resume (``checkpoint=path``), and :func:`cached_fit` keeps finished fits on disk keyed by their
hyperparameters and the image, so notebooks and sliders do not retrain.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cs180utils import config as cfgmod
from cs180utils.checkpoint import load_checkpoint, save_checkpoint
from cs180utils.field2d.images import image_digest, image_to_targets
from cs180utils.field2d.model import NeuralField2D, mse_to_psnr, render


@dataclass
class FitConfig:
    L: int = 10                 # positional-encoding frequencies (2-D input -> 2 (2L + 1) numbers)
    width: int = 256            # hidden width D of the MLP
    depth: int = 4              # Linear layers in the MLP (the course's figure has 4)
    steps: int = 2000           # optimisation steps (one random batch of pixels each)
    batch: int = 10_000         # pixels per batch (sampled uniformly with replacement)
    lr: float = 1e-2            # Adam learning rate
    eval_every: int = 100       # full-image PSNR every this many steps (and at the last step)
    snapshot_steps: tuple[int, ...] = (0, 50, 100, 200, 500, 1000)  # steps whose full render is kept (0 = init)
    seed: int = 0               # seeds the initialisation and the pixel sampling
    chunk: int = 1 << 16        # pixels per forward pass when rendering the whole image
    dtype: str = "float32"      # "float32" or "float64" (see notebook 01 on precision)

    def __post_init__(self):
        for name in ("steps", "batch", "eval_every", "width", "depth", "chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"FitConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.L < 0:
            raise ValueError(f"FitConfig.L must be >= 0, got {self.L}")
        if self.lr <= 0:
            raise ValueError(f"FitConfig.lr must be > 0, got {self.lr}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"FitConfig.dtype must be 'float32' or 'float64', got {self.dtype!r}")
        self.snapshot_steps = tuple(sorted({int(s) for s in self.snapshot_steps}))

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    def key(self) -> dict[str, Any]:
        """The hyperparameters that determine the result (what a cached fit is keyed by)."""
        return {k: v for k, v in asdict(self).items() if k not in ("chunk",)}


@dataclass
class FitResult:
    model: nn.Module                        # the trained field (on the device it was trained on)
    config: FitConfig
    psnr: float                             # full image, final model, dB
    seconds: float                          # training time (excluding full-image evaluations and snapshots)
    history: dict[str, list] = field(default_factory=dict)
    # history: "step", "psnr" (full image), "seconds" (cumulative training time at that step),
    #          "train_psnr" (mean batch MSE since the previous entry, as dB)
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)  # step -> (H, W, 3) uint8 render
    final: np.ndarray | None = None         # (H, W, 3) uint8 render of the final model
    cached: bool = False                    # loaded from the on-disk cache rather than trained now


def to_uint8(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` float in [0, 1] -> uint8 numpy."""
    if isinstance(image, torch.Tensor):
        image = image.detach().float().cpu().numpy()
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def image_psnr(model: nn.Module, colors: torch.Tensor, height: int, width: int, chunk: int
               ) -> tuple[float, torch.Tensor]:
    """PSNR of the full render against ``colors (H*W, 3)``; returns ``(psnr, render (H, W, 3))``."""
    out = render(model, height, width, chunk=chunk)  # (H, W, 3)
    mse = torch.mean((out.reshape(-1, 3).to(colors.dtype) - colors) ** 2).item()
    return mse_to_psnr(mse), out


def fit_image(image, cfg: FitConfig | None = None, model: nn.Module | None = None, *,
              device: str | torch.device | None = None, progress: bool = True,
              checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 500) -> FitResult:
    """Fit a neural field to ``image`` (``(H, W, 3)``, uint8 or float in [0, 1]).

    Args:
        cfg: hyperparameters (default ``FitConfig()``, the course's).
        model: a ready model mapping ``(R, 2) -> (R, 3)``; default ``NeuralField2D(L, width, depth)`` from
            ``cfg``, seeded with ``cfg.seed``.
        device: default: best available (``config.pick_device``).
        checkpoint: a file to save to every ``checkpoint_every`` steps and at the end; if it exists the fit
            resumes from it (same image and hyperparameters; ``steps`` may be raised to train on).

    Returns a :class:`FitResult`; ``history`` lists full-image PSNR against training seconds.
    """
    from tqdm.auto import tqdm  # noqa: PLC0415

    cfg = cfg or FitConfig()
    dev = cfgmod.pick_device(str(device) if device is not None else None)
    dtype = cfg.torch_dtype
    coords, colors = image_to_targets(image, dtype=dtype, device=dev)  # (P, 2), (P, 3)
    img_h, img_w = np.asarray(image).shape[:2]
    n_pix = coords.shape[0]

    cfgmod.seed_everything(cfg.seed)
    if model is None:
        model = NeuralField2D(L=cfg.L, width=cfg.width, depth=cfg.depth)
    model = model.to(device=dev, dtype=dtype).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)  # pixel sampling (CPU, so it is the same on every device)

    step, train_seconds = 0, 0.0
    history: dict[str, list] = {"step": [], "psnr": [], "seconds": [], "train_psnr": []}
    snapshots: dict[int, np.ndarray] = {}
    digest = image_digest(image)
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    if ckpt_path is not None and ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        _check_resumable(state, cfg, digest, ckpt_path)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["rng"])
        step, train_seconds = state["step"], state["train_seconds"]
        history, snapshots = state["history"], state["snapshots"]

    def save() -> None:
        if ckpt_path is not None:
            save_checkpoint(ckpt_path, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                        "rng": gen.get_state(), "step": step, "train_seconds": train_seconds,
                                        "history": history, "snapshots": snapshots, "config": cfg.key(),
                                        "image_digest": digest, "image_shape": (img_h, img_w)})

    if step == 0 and 0 in cfg.snapshot_steps:
        snapshots[0] = to_uint8(render(model, img_h, img_w, chunk=cfg.chunk))
    loss_sum, loss_n = torch.zeros((), device=dev, dtype=dtype), 0
    bar = tqdm(total=cfg.steps, initial=step, desc=f"field2d L={cfg.L} D={cfg.width}", disable=not progress,
               leave=False)
    _sync(dev)
    t0 = time.perf_counter()
    while step < cfg.steps:
        idx = torch.randint(n_pix, (cfg.batch,), generator=gen).to(dev)  # (B,)
        pred = model(coords[idx])  # (B, 3)
        loss = torch.mean((pred - colors[idx]) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        loss_sum += loss.detach()
        loss_n += 1
        bar.update(1)
        is_eval = step % cfg.eval_every == 0 or step == cfg.steps
        if is_eval or step in cfg.snapshot_steps or step % checkpoint_every == 0:
            _sync(dev)
            train_seconds += time.perf_counter() - t0
            if is_eval:
                psnr, out = image_psnr(model, colors, img_h, img_w, cfg.chunk)
                history["step"].append(step)
                history["psnr"].append(psnr)
                history["seconds"].append(train_seconds)
                history["train_psnr"].append(mse_to_psnr(loss_sum.item() / max(loss_n, 1)))
                loss_sum.zero_()
                loss_n = 0
                bar.set_postfix(psnr=f"{psnr:.2f}")
                if step in cfg.snapshot_steps:
                    snapshots[step] = to_uint8(out)
            elif step in cfg.snapshot_steps:
                snapshots[step] = to_uint8(render(model, img_h, img_w, chunk=cfg.chunk))
            if step % checkpoint_every == 0 or step == cfg.steps:
                save()
            _sync(dev)
            t0 = time.perf_counter()
    bar.close()
    if not history["step"] or history["step"][-1] != step:  # resumed a finished run: evaluate once
        psnr, _ = image_psnr(model, colors, img_h, img_w, cfg.chunk)
        history["step"].append(step), history["psnr"].append(psnr), history["seconds"].append(train_seconds)
        history["train_psnr"].append(float("nan"))
        save()
    psnr, out = image_psnr(model, colors, img_h, img_w, cfg.chunk)
    return FitResult(model=model, config=cfg, psnr=psnr, seconds=train_seconds, history=history,
                     snapshots=snapshots, final=to_uint8(out))


def _check_resumable(state: dict, cfg: FitConfig, digest: str, path: Path) -> None:
    """Refuse to resume from a checkpoint of another image or other hyperparameters (steps may grow)."""
    ignore = ("steps", "eval_every", "snapshot_steps")
    old = {k: v for k, v in state.get("config", {}).items() if k not in ignore}
    new = {k: v for k, v in cfg.key().items() if k not in ignore}
    if state.get("image_digest") != digest or old != new:
        diff = {k: (old.get(k), new.get(k)) for k in set(old) | set(new) if old.get(k) != new.get(k)}
        what = "another image" if state.get("image_digest") != digest else f"other settings {diff} (old, new)"
        raise ValueError(f"checkpoint {path} is from {what}: pass another --out to start a new run, "
                         f"or delete {path}")


# ---- on-disk cache of finished fits (for sliders and re-runs) ---------------------------------------------

def cache_key(image, cfg: FitConfig) -> str:
    """Hash of the image content and the hyperparameters that determine the result."""
    blob = json.dumps({"image": image_digest(image), **cfg.key()}, sort_keys=True, default=list)
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


def cached_fit(image, cfg: FitConfig, cache_dir: str | os.PathLike | None = None, *,
               device: str | torch.device | None = None, progress: bool = True, refit: bool = False) -> FitResult:
    """:func:`fit_image` with the result kept under ``runs/field2d_cache/`` (or ``cache_dir``), keyed by
    :func:`cache_key`: the second call with the same image and hyperparameters loads instead of training."""
    folder = Path(cache_dir) if cache_dir is not None else cfgmod.runs_dir("field2d_cache")
    path = folder / f"{cache_key(image, cfg)}.pt"
    if path.exists() and not refit:
        try:
            s = load_checkpoint(path)
            model = NeuralField2D(L=cfg.L, width=cfg.width, depth=cfg.depth).to(cfg.torch_dtype)
            model.load_state_dict(s["model"])
            return FitResult(model=model, config=cfg, psnr=s["psnr"], seconds=s["seconds"], history=s["history"],
                             snapshots=s["snapshots"], final=s["final"], cached=True)
        except Exception as exc:  # noqa: BLE001  (a stale or broken cache entry is refitted, not fatal)
            print(f"cache entry {path} unusable ({exc}); refitting", flush=True)
    result = fit_image(image, cfg, device=device, progress=progress)
    model_cpu = {k: v.detach().cpu() for k, v in result.model.state_dict().items()}
    save_checkpoint(path, {"model": model_cpu, "psnr": result.psnr, "seconds": result.seconds,
                           "history": result.history, "snapshots": result.snapshots, "final": result.final,
                           "config": cfg.key()})
    return result


def replace(cfg: FitConfig, **changes) -> FitConfig:
    """A copy of ``cfg`` with ``changes`` (``dataclasses.replace``)."""
    return dataclasses.replace(cfg, **changes)
