"""A generic trainer for keypoint models (direct regression or heatmaps): Adam, epochs, loss curves, a
checkpoint every epoch and resume, seeding, tqdm progress on stderr.

    >>> cfg = TrainConfig(epochs=20, lr=1e-3)
    >>> result = fit(model, train_loader, val_loader, cfg, loss_fn=nn.MSELoss(), out_dir="runs/nose",
    ...              predict=lambda out: out, metric_fn=my_metrics)
    >>> result["history"]["val_loss"], result["best"], result["final"]

Batches are ``(inputs, targets, *rest)``; ``loss_fn(model(inputs), targets)``. ``predict(outputs)`` turns
outputs into whatever ``metric_fn(preds, targets)`` compares (e.g. a heatmap model's soft-argmax), where
``preds``/``targets`` are the whole validation set concatenated along dim 0. Running the same ``fit`` again
with the same ``out_dir`` resumes after the last finished epoch (an interrupted run loses at most one epoch);
the random state is re-seeded per epoch (``seed + epoch``) so a resumed run equals an uninterrupted one.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from cs180utils import config
from cs180utils.checkpoint import load_checkpoint, save_checkpoint


@dataclass
class TrainConfig:
    epochs: int = 10                 # passes over the training set
    lr: float = 1e-3                 # Adam learning rate
    weight_decay: float = 0.0        # Adam weight decay
    lr_min_factor: float = 1.0       # cosine decay of lr down to lr * this over the epochs (1.0 = constant)
    seed: int = 0                    # seeds init (before fit), shuffling and augmentation per epoch
    device: str | None = None        # "cpu", "cuda", ...; None = best available
    monitor: str = "val_loss"        # the history key that picks the best epoch (lower is better)
    progress: bool = True            # tqdm bars on stderr


def _to(x, device):
    return x.to(device, non_blocking=True) if isinstance(x, torch.Tensor) else x


def _run_epoch(model, loader, loss_fn, device, optimizer=None, predict=None, desc="", progress=True):
    """One pass; returns (mean loss, preds, targets) (preds/targets concatenated when ``predict`` is given)."""
    train = optimizer is not None
    model.train(train)
    total, count, preds, targets = 0.0, 0, [], []
    bar = tqdm(loader, desc=desc, leave=False, disable=not progress, file=sys.stderr)
    with torch.set_grad_enabled(train):
        for batch in bar:
            x, y = _to(batch[0], device), _to(batch[1], device)
            out = model(x)
            loss = loss_fn(out, y)
            if not torch.isfinite(loss):
                raise RuntimeError(f"loss became {loss.item()} ({desc}): lower the learning rate (--lr)")
            if train:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            n = x.shape[0]
            total += loss.item() * n
            count += n
            if predict is not None:
                preds.append(predict(out.detach()).cpu())
                targets.append(y.detach().cpu())
            bar.set_postfix(loss=f"{total / max(count, 1):.4g}")
    if count == 0:
        raise ValueError(f"the {'training' if train else 'validation'} loader is empty: no images in that split?")
    cat = (torch.cat(preds), torch.cat(targets)) if predict is not None else (None, None)
    return total / count, cat[0], cat[1]


def fit(model: nn.Module, train_loader, val_loader, cfg: TrainConfig, loss_fn: Callable,
        out_dir: str | Path | None = None, predict: Callable | None = None,
        metric_fn: Callable | None = None, extra_state: dict | None = None) -> dict:
    """Train ``model`` with Adam for ``cfg.epochs``; validate after each epoch; checkpoint and resume.

    Args:
        model: any module; ``model(inputs)`` -> outputs.
        train_loader / val_loader: iterables of ``(inputs, targets, ...)`` batches (val may be None).
        loss_fn: ``loss_fn(outputs, targets)`` -> scalar tensor.
        out_dir: folder for ``last.pt`` (every epoch, for resume) and ``best.pt`` (lowest ``cfg.monitor``);
            None = no checkpoints.
        predict: ``predict(outputs)`` -> predictions for ``metric_fn`` (identity if None but metric_fn given).
        metric_fn: ``metric_fn(preds, targets)`` -> dict of floats, logged per epoch as ``val_<key>``.
        extra_state: plain dict saved in the checkpoints (e.g. the model's constructor arguments).

    Returns: ``{"history": {"epoch", "train_loss", "val_loss", "val_<metric>"...: lists}, "best": {...},
    "final": {...}, "best_epoch", "epochs_run" (this call), "seconds", "checkpoint" (path or None),
    "resumed_from" (epoch or 0)}``. The model keeps the FINAL weights; ``best.pt`` holds the best ones.
    """
    device = config.pick_device(cfg.device)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: _cosine(e, cfg.epochs, cfg.lr_min_factor))
    if metric_fn is not None and predict is None:
        predict = lambda out: out  # noqa: E731
    history: dict[str, list] = {"epoch": [], "train_loss": [], "val_loss": []}
    start, best_value, best_epoch = 0, math.inf, -1
    last = Path(out_dir) / "last.pt" if out_dir is not None else None
    if last is not None and last.exists():
        state = load_checkpoint(last)
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise RuntimeError(f"{last} holds a different model ({str(exc).splitlines()[0]}); use another --out "
                               f"or delete {last.parent} to start over") from None
        optimizer.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        history, start = state["history"], state["epoch"] + 1
        best_value, best_epoch = state.get("best_value", math.inf), state.get("best_epoch", -1)
        print(f"resuming from {last} after epoch {start} of {cfg.epochs}", file=sys.stderr)
    t0 = time.perf_counter()
    epochs = range(start, cfg.epochs)
    for epoch in tqdm(epochs, desc="epochs", disable=not cfg.progress, file=sys.stderr):
        config.seed_everything(cfg.seed + 1000 * (epoch + 1))
        tr_loss, _, _ = _run_epoch(model, train_loader, loss_fn, device, optimizer, desc=f"train {epoch + 1}",
                                   progress=cfg.progress)
        sched.step()
        row = {"epoch": epoch + 1, "train_loss": tr_loss, "val_loss": float("nan")}
        if val_loader is not None:
            va_loss, preds, targets = _run_epoch(model, val_loader, loss_fn, device, None, predict,
                                                 desc=f"val {epoch + 1}", progress=cfg.progress)
            row["val_loss"] = va_loss
            if metric_fn is not None:
                row.update({f"val_{k}": float(v) for k, v in metric_fn(preds, targets).items()})
        n_done = len(history["epoch"])
        for k in set(history) | set(row):
            history.setdefault(k, [float("nan")] * n_done).append(row.get(k, float("nan")))
        value = row.get(cfg.monitor, tr_loss)
        if value < best_value:
            best_value, best_epoch = value, epoch + 1
            if out_dir is not None:
                save_checkpoint(Path(out_dir) / "best.pt", {"model": model.state_dict(), "epoch": epoch,
                                                            "row": row, "config": asdict(cfg),
                                                            "extra": extra_state or {}})
        if last is not None:
            save_checkpoint(last, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                   "scheduler": sched.state_dict(), "epoch": epoch, "history": history,
                                   "best_value": best_value, "best_epoch": best_epoch, "config": asdict(cfg),
                                   "extra": extra_state or {}})
    seconds = time.perf_counter() - t0
    if not history["epoch"]:
        raise ValueError(f"nothing trained: epochs={cfg.epochs}")
    final = {k: v[-1] for k, v in history.items()}
    best = {k: v[best_epoch - 1] for k, v in history.items()} if best_epoch > 0 else final
    return {"history": history, "best": best, "final": final, "best_epoch": best_epoch,
            "epochs_run": len(epochs), "seconds": seconds, "resumed_from": start,
            "checkpoint": str(last) if last is not None else None}


def _cosine(epoch: int, epochs: int, min_factor: float) -> float:
    if min_factor >= 1.0 or epochs <= 1:
        return 1.0
    return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * min(epoch, epochs) / epochs))


def predict_all(model: nn.Module, loader, predict: Callable | None = None, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``model`` over ``loader``; returns ``(predict(outputs), targets)`` concatenated, on the CPU."""
    device = config.pick_device(device) if device is None or isinstance(device, str) else device
    model.to(device).eval()
    preds, targets = [], []
    with torch.no_grad():
        for batch in loader:
            out = model(_to(batch[0], device))
            preds.append((predict(out) if predict else out).cpu())
            targets.append(batch[1].cpu() if isinstance(batch[1], torch.Tensor) else batch[1])
    return torch.cat(preds), torch.cat(targets)
