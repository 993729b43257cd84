"""The workbook's one training loop, used by every part (2-D field, NeRF, IMM keypoints, 300-W).

    loop = LoopConfig(steps=2000, max_seconds=300, eval_every=100, checkpoint_every=250)
    result = train_loop(model, optimizer, step_fn, loop, schedule=Exponential(0.1), evaluate=evaluate_fn,
                        checkpoint=run / CHECKPOINT, identity={"config": ..., "data": ...})

What it does, once for everyone:

- one optimizer step per ``step_fn(step)`` (which draws its batch and returns the loss, or ``(loss, logs)``);
  the loop zeroes the gradients, back-propagates, calls ``before_step(step)`` and steps the optimizer;
- the learning rate of every parameter group is its initial one times ``schedule(progress)``, where
  ``progress`` is the larger of ``step / steps`` and ``seconds / max_seconds``: a time-capped run still ends
  its schedule;
- a time budget: training stops once its seconds (evaluation and checkpoint writing excluded) pass
  ``max_seconds``;
- ``evaluate(step) -> {metric: float}`` every ``eval_every`` steps, after the steps listed in ``eval_at`` and
  always at the end (``final_evaluate``, when given, at the end instead: e.g. every validation image where the
  periodic evaluations use a few);
- ``after_eval(step, metrics)`` after each evaluation; returning True ends the training there (early stopping,
  e.g. a target reached): the run is then finished, and ``LoopResult.stopped_early`` says so;
- an atomic checkpoint every ``checkpoint_every`` steps, at each evaluation and at the end, which the same call
  resumes from: it first compares the saved ``identity`` (the config and the data it was trained on) with the
  asked one and names every setting that differs (settings in ``may_change``, e.g. ``steps``, may);
- a non-finite loss or metric stops training with :class:`TrainingDiverged`; nothing non-finite is saved;
- random generators in ``rngs`` (and torch's global one) are saved and restored, so a resumed run draws the
  same batches as an uninterrupted one; the learning rate is the one the optimizer was built with now, not the
  saved one (they differ only where ``may_change`` allows it);
- Ctrl-C (KeyboardInterrupt) leaves with ``exc.checkpoint``: the checkpoint kept, or None when none was written;
- under ``torchrun`` (:mod:`cs180utils.machinery.distributed`), ``model`` may be the ``DistributedDataParallel``
  wrapper the step trains through: the loop saves and loads the model inside it, logs the loss averaged over the
  processes, ends every process at the same step of a time budget, and only rank 0 writes the checkpoint and
  shows the progress bar;
- on a GPU (:func:`gpu_settings`): the step under ``torch.autocast`` in ``precision`` (bfloat16, or float16 with a
  gradient scaler), and no host-device synchronisation per step: losses stay on the GPU and are read (and
  checked to be finite) every ``log_every`` steps, at evaluations, checkpoints and the end. On a CPU nothing of
  this applies: every step is read and checked at once, as before.

A finished run (its checkpoint says so) is returned as it is, without training or evaluating again.

One training at a time per run folder: the loop holds a lock (:func:`run_lock`, an ``flock`` on
``<run folder>/.training.lock``, which names the holder's pid) from reading the checkpoint to writing the last
one; a second training into the same folder is refused with :class:`RunFolderBusy`. The operating system
releases the lock when its process dies, so a killed training never blocks the next.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import torch
from torch import nn
from tqdm.auto import tqdm

from cs180utils.machinery import config as _config
from cs180utils.machinery import distributed as _dist
from cs180utils.machinery import settings as _settings
from cs180utils.machinery.checkpoint import CheckpointError, load_checkpoint, load_weights, save_checkpoint

CHECKPOINT = "checkpoint.pt"   # the one checkpoint file name of every training
RESULT = "result.json"         # the JSON line of a finished training, beside its checkpoint
LOCK = ".training.lock"        # held (flock) by the training using the run folder; removed when it ends

try:
    import fcntl
except ImportError:   # Windows: no flock; trainings into one folder are not guarded there
    fcntl = None

# settings that may change between a run and its resumption (they change how long or how often, not what)
MAY_CHANGE = ("steps", "epochs", "max_seconds", "eval_every", "checkpoint_every", "log_every", "val_views", "chunk",
              "device", "progress", "snapshot_steps", "render_samples")


class TrainingDiverged(RuntimeError):
    """The loss or a metric became NaN or infinite; the last good checkpoint is kept."""


class IncompatibleCheckpoint(ValueError):
    """A checkpoint was trained with other settings or data than the run asked to resume it."""


class RunFolderBusy(RuntimeError):
    """Another training (another process, or the same one) is using the run folder."""


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike | None) -> Iterator[None]:
    """Hold the run folder ``folder`` for one training (None: no folder, nothing to hold).

    An exclusive, non-blocking ``flock`` on ``folder/.training.lock``, which holds the holder's pid; taken
    already, :class:`RunFolderBusy` names the folder and that pid. Released (and the file removed) on the way
    out; a process that dies releases it too (the kernel drops its locks), so a stale file never blocks. A
    folder this call created and that stays empty is removed again."""
    if folder is None or fcntl is None:
        yield
        return
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunFolderBusy(f"run folder {folder} is in use by another training (pid {holder}); wait for it to "
                                f"finish, or pass another --out") from None
        try:   # the file may have been removed by the holder we waited on: lock the one at the path
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()
        os.close(fd)
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()   # only when empty: nothing was written


@dataclass
class LoopConfig:
    steps: int                         # optimizer steps in all
    max_seconds: float | None = None   # stop once training time (evaluation excluded) passes this; None: no cap
    eval_every: int = 0                # evaluate every this many steps (0: only at the end; always at the end)
    checkpoint_every: int = 0          # save every this many steps (0: at evaluations and the end only)
    log_every: int = 25                # mean training loss (and step logs) into the history every this many steps
    eval_at: tuple[int, ...] = ()      # also evaluate after these steps (e.g. where a render is wanted)

    def __post_init__(self):
        if int(self.steps) < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        for name in ("eval_every", "checkpoint_every", "log_every"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        if any(int(s) < 1 for s in self.eval_at):
            raise ValueError(f"eval_at must list steps of at least 1, got {tuple(self.eval_at)}")
        self.eval_at = tuple(sorted({int(s) for s in self.eval_at}))
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError(f"max_seconds must be positive (or None for no cap), got {self.max_seconds}")


# ---- learning-rate schedules: progress in [0, 1] -> factor of the initial learning rate ---------------------

def constant(progress: float) -> float:
    """No schedule: the learning rate stays."""
    return 1.0


@dataclass(frozen=True)
class Exponential:
    """Exponential decay to ``final`` times the initial rate at the end (``final ** progress``)."""
    final: float

    def __call__(self, progress: float) -> float:
        return self.final ** min(max(progress, 0.0), 1.0)


@dataclass(frozen=True)
class Cosine:
    """Cosine decay from 1 to ``final`` (1.0: constant)."""
    final: float = 0.0

    def __call__(self, progress: float) -> float:
        p = min(max(progress, 0.0), 1.0)
        return self.final + (1.0 - self.final) * 0.5 * (1.0 + math.cos(math.pi * p))


@dataclass(frozen=True)
class OneCycle:
    """Linear warm-up from ``start`` to 1 over the first ``warmup`` of the run, then cosine to 0."""
    warmup: float = 0.1
    start: float = 0.05

    def __call__(self, progress: float) -> float:
        if progress < self.warmup:
            return self.start + (1.0 - self.start) * progress / self.warmup
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (progress - self.warmup) / (1.0 - self.warmup))))


# ---- batches ----------------------------------------------------------------------------------------------------

def epoch_batches(loader, steps_per_epoch: int, start_step: int = 0, seed: int = 0) -> Iterator:
    """Batches of ``loader`` forever, epoch after epoch, seeding everything with ``seed + 1000 (epoch + 1)`` at
    the start of each epoch (shuffling and augmentation), from the batch of ``start_step`` on: a run resumed
    at a step sees the batches an uninterrupted one would."""
    epoch, skip = divmod(start_step, steps_per_epoch)
    while True:
        _config.seed_everything(seed + 1000 * (epoch + 1))
        for i, batch in enumerate(loader):
            if i >= steps_per_epoch:
                break
            if skip:
                skip -= 1
                continue
            yield batch
        epoch += 1


# ---- GPU settings -----------------------------------------------------------------------------------------------

def autocast_dtype(device: torch.device | str) -> torch.dtype | None:
    """The mixed-precision dtype for training on ``device``: bfloat16 on a CUDA GPU that has it (Ampere and
    later), float16 on older ones (T4, V100: the loop then scales the loss), None elsewhere (CPU, MPS: full
    precision, the numbers unchanged) or with ``CS180_AMP=0``."""
    device = torch.device(device)
    if device.type != "cuda" or os.environ.get("CS180_AMP", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def gpu_settings(device: torch.device | str) -> dict:
    """What a training on ``device`` passes to :func:`train_loop` (``precision``), after turning cuDNN's
    autotuner on for a CUDA device (fixed input shapes: it picks the fastest convolution algorithms once)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return {"precision": autocast_dtype(device)}


def memory_format(device: torch.device | str) -> torch.memory_format:
    """How a convolutional network's weights are laid out on ``device``: channels-last (NHWC) on a CPU, where
    oneDNN's convolutions run faster that way and the convolutions' outputs follow the weights (``python
    benchmarks/steps.py --profile cpu --only resnet unet`` compares both), PyTorch's default elsewhere (not
    measured on a GPU here). Use ``model.to(device, memory_format=memory_format(device))``; the numbers are
    the same to rounding."""
    return torch.channels_last if torch.device(device).type == "cpu" else torch.preserve_format


def loader_settings(device: torch.device | str, workers: int | None = None) -> dict:
    """``DataLoader`` arguments that keep a GPU busy: worker processes for the augmentation and pinned memory
    (copies with ``non_blocking=True``); on a CPU none (one process, the batches exactly as before)."""
    if torch.device(device).type != "cuda":
        return {}
    workers = min(4, os.cpu_count() or 1) if workers is None else workers
    return {"num_workers": workers, "pin_memory": True, "persistent_workers": False}


# ---- the loop ---------------------------------------------------------------------------------------------------

@dataclass
class LoopResult:
    step: int                          # steps done in all (this call and the ones it resumed)
    seconds: float                     # training seconds in all (evaluation and checkpoints excluded)
    history: dict                      # "train": [{"step", "loss", ...logs}], "eval": [{"step", "seconds", ...metrics}]
    final: dict                        # the last evaluation's metrics ({} without ``evaluate``)
    stopped_at_max_seconds: bool       # the time budget ended the run before ``steps``
    resumed_from: int                  # the step this call started at (0: a new run)
    checkpoint: Path | None            # where it was saved
    extra: dict = field(default_factory=dict)  # the caller's ``extra`` as saved (e.g. read back on a resume)
    stopped_early: bool = False        # ``after_eval`` ended the run before ``steps``


def _check_finite(what: str, value: float, step: int, checkpoint: Path | None, advice: str) -> None:
    if not math.isfinite(value):
        kept = (f"the last checkpoint ({checkpoint}) is kept" if checkpoint is not None and checkpoint.exists()
                else "no checkpoint was written")
        raise TrainingDiverged(f"{what} became {value} at step {step}: {advice}; {kept}")


def train_loop(model: nn.Module, optimizer: torch.optim.Optimizer, step_fn: Callable[[int], Any],
               loop: LoopConfig, *, schedule: Callable[[float], float] = constant,
               evaluate: Callable[[int], Mapping[str, float]] | None = None,
               final_evaluate: Callable[[int], Mapping[str, float]] | None = None,
               checkpoint: str | os.PathLike | None = None, identity: Mapping[str, Any] | None = None,
               may_change: tuple[str, ...] = MAY_CHANGE, rngs: Mapping[str, torch.Generator] | None = None,
               extra: dict | None = None, before_step: Callable[[int], None] | None = None,
               after_eval: Callable[[int, dict], bool | None] | None = None, resume: bool = True, progress: bool = True,
               desc: str = "train", advice: str = "lower the learning rate (--lr)",
               precision: torch.dtype | None = None, read_every_step: bool | None = None) -> LoopResult:
    """Train ``model`` with ``optimizer`` for ``loop.steps`` steps of ``step_fn`` (see the module docstring),
    holding the checkpoint's run folder meanwhile (:func:`run_lock`; under torchrun rank 0 holds it for all).

    Args:
        step_fn: ``step_fn(step)`` -> loss (scalar tensor) or ``(loss, {name: float})`` of logs for the history.
        identity: what the run is (``{"config": config_dict(cfg), "data": fingerprint}``); saved, and compared on
            resume: a difference outside ``may_change`` raises :class:`IncompatibleCheckpoint` naming it.
        rngs: generators whose states are saved and restored with the run.
        extra: plain values saved with the checkpoint (e.g. a mean shape or the scene's box).
        final_evaluate: the evaluation at the end, when it differs from ``evaluate`` (e.g. on all validation
            images where the periodic one uses a few); it runs once at the end even where a periodic
            evaluation ran at the same step. Default: ``evaluate``, skipped when it already ran at the last step.
        after_eval: ``after_eval(step, metrics)`` after each evaluation (snapshots, notebook callbacks); returning
            True ends the training there (early stopping).
        resume: False ignores an existing checkpoint (it is overwritten at the first save).
        precision: run ``step_fn`` under ``torch.autocast`` in this dtype (:func:`autocast_dtype`); float16
            scales the loss (``torch.amp.GradScaler``; ``before_step`` sees unscaled gradients). None: as is.
        read_every_step: read (and check) each step's loss at once; False: every ``log_every`` steps, at
            evaluations, checkpoints and the end (one synchronisation there). None: True on a CPU, False on CUDA.
    """
    path = Path(checkpoint) if checkpoint is not None else None
    with run_lock(path.parent if path is not None and _dist.is_main() else None):
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        autocast = torch.autocast(device.type, dtype=precision) if precision is not None else contextlib.nullcontext()
        run = _Run(path, _dist.unwrap(model), optimizer, dict(rngs or {}), dict(identity or {}),
                   extra if extra is not None else {},   # the caller's dict itself: it may fill it as it trains
                   advice, torch.amp.GradScaler(device.type) if precision == torch.float16 else None)
        if path is not None and resume and path.is_file():
            run.resume(may_change, loop)
        resumed_from = run.step
        if run.finished:   # a finished run is returned as it is
            return run.result(resumed_from)
        losses = _Losses(device.type == "cuda" if read_every_step is None else not read_every_step, loop, run)
        bar = tqdm(total=loop.steps, initial=min(run.step, loop.steps), desc=desc, leave=True, file=sys.stderr,
                   disable=not progress or not _dist.is_main())

        def run_eval(fn) -> tuple[dict, bool]:
            """Metrics of ``fn`` at this step, into the history; and whether ``after_eval`` asks to stop."""
            with torch.no_grad():
                metrics = dict(fn(run.step)) if fn is not None else {}
            model.train()
            for k, v in metrics.items():
                if isinstance(v, float):
                    run.check_finite(f"the evaluation's {k}", v, run.step)
            run.history["eval"].append({"step": run.step, "seconds": run.seconds, **metrics})
            return metrics, bool(after_eval(run.step, metrics)) if after_eval is not None else False

        model.train()
        try:
            while run.step < loop.steps:
                if loop.max_seconds is not None and _dist.any_across(run.seconds >= loop.max_seconds):
                    run.stopped = True   # (under torchrun: once any process is out of time, all stop at this step)
                    break
                t0 = time.perf_counter()
                done = run.step / loop.steps   # progress of the schedule: steps, or time where that is further
                if loop.max_seconds is not None:
                    done = max(done, run.seconds / loop.max_seconds)
                factor = schedule(done)
                for g in optimizer.param_groups:
                    g["lr"] = g["initial_lr"] * factor
                with autocast:
                    out = step_fn(run.step)
                loss, logs = out if isinstance(out, tuple) else (out, {})
                losses.add(run.step, loss, logs)       # averaged over processes; checked now, or on the GPU later
                run.backward_and_step(loss, before_step)
                run.step += 1
                run.seconds += time.perf_counter() - t0
                bar.update(1)
                losses.end_of_step(run.step)
                if loop.log_every and run.step % loop.log_every == 0:
                    row = losses.history_row(run.step)
                    run.history["train"].append(row)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k != "step"})
                evaluated = False
                if losses.eval_due(run.step) and run.step < loop.steps:
                    metrics, run.stopped_early = run_eval(evaluate)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items() if isinstance(v, float)})
                    evaluated = True
                if evaluated or (loop.checkpoint_every and run.step % loop.checkpoint_every == 0):
                    run.save()
                if run.stopped_early:
                    break
            losses.settle()
            if final_evaluate is not None:
                run_eval(final_evaluate)
            elif evaluate is not None and (not run.history["eval"] or run.history["eval"][-1]["step"] != run.step):
                run_eval(evaluate)
        except KeyboardInterrupt as exc:   # Ctrl-C / SIGTERM: say what is kept (read by cs180utils.machinery.cli)
            exc.checkpoint = path if path is not None and path.is_file() else None
            raise
        finally:
            bar.close()
        run.finished = True
        run.save()
        return run.result(resumed_from)


class _Run:
    """What a training carries from step to step and into its checkpoint: the counters, the history, the
    flags, and how to save, resume and take one optimizer step."""

    def __init__(self, path: Path | None, raw: nn.Module, optimizer: torch.optim.Optimizer,
                 rngs: dict[str, torch.Generator], identity: dict, extra: dict, advice: str,
                 scaler: torch.amp.GradScaler | None):
        self.path, self.raw, self.optimizer, self.rngs, self.identity = path, raw, optimizer, rngs, identity
        self.extra, self.advice, self.scaler = extra, advice, scaler
        self.step, self.seconds, self.history = 0, 0.0, {"train": [], "eval": []}
        self.finished = self.stopped = self.stopped_early = False
        self.saved_extra: dict = {}
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])

    def check_finite(self, what: str, value: float, step: int) -> None:
        _check_finite(what, value, step, self.path, self.advice)

    def backward_and_step(self, loss: torch.Tensor, before_step: Callable[[int], None] | None) -> None:
        """Zero the gradients, back-propagate ``loss`` (scaled with float16), ``before_step``, step."""
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if before_step is not None:
            before_step(self.step)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()

    def resume(self, may_change: tuple[str, ...], loop: LoopConfig) -> None:
        """Load the checkpoint at ``path`` (same identity but ``may_change``): weights, optimizer, generators,
        counters, history; a finished run asked for more steps or time trains on."""
        state = load_checkpoint(self.path)
        _check_identity(state, self.identity, may_change, self.path)
        try:
            load_weights(self.raw, state.get("model"), self.path, f"pass --fresh to start over in "
                                                                  f"{self.path.parent}, or another --out (or delete "
                                                                  f"{self.path})")
        except CheckpointError as exc:
            raise IncompatibleCheckpoint(str(exc)) from None
        asked = [g["initial_lr"] for g in self.optimizer.param_groups]
        self.optimizer.load_state_dict(state["optimizer"])
        for g, lr in zip(self.optimizer.param_groups, asked):   # the saved state holds the old run's rates: the
            g["initial_lr"] = lr                                 # rate asked now (in the identity) is the one used
        for name, gen in self.rngs.items():
            if name in state.get("rngs", {}):
                gen.set_state(state["rngs"][name])
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.seconds, self.history = int(state["step"]), float(state["seconds"]), state["history"]
        self.finished, self.stopped = bool(state.get("finished")), bool(state.get("stopped_at_max_seconds"))
        self.stopped_early = bool(state.get("stopped_early"))
        self.saved_extra = dict(state.get("extra") or {})
        if self.finished and self.step < loop.steps and not self.stopped and not self.stopped_early:
            self.finished = False   # asked for more steps than the finished run did: train on
        if self.finished and self.stopped and (loop.max_seconds is None or self.seconds < loop.max_seconds):
            self.finished, self.stopped = False, False   # a larger (or no) time budget now: train on
        if not self.finished and _dist.is_main():
            print(f"resuming {self.path} at step {self.step} of {loop.steps}", file=sys.stderr)

    def save(self) -> None:
        """The checkpoint (atomic; rank 0 writes it); refused when a weight is not finite."""
        if self.path is None:
            return
        bad = [n for n, p in self.raw.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            self.check_finite(f"parameter {bad[0]}", float("nan"), self.step)
        if not _dist.is_main():   # every process holds the same weights: rank 0 writes them
            return
        save_checkpoint(self.path, {
            "model": self.raw.state_dict(), "optimizer": self.optimizer.state_dict(), "step": self.step,
            "seconds": self.seconds, "history": self.history, "identity": self.identity,
            "config": self.identity.get("config"), "finished": self.finished,
            "stopped_at_max_seconds": self.stopped, "stopped_early": self.stopped_early,
            "rngs": {k: g.get_state() for k, g in self.rngs.items()}, "torch_rng": torch.get_rng_state(),
            "extra": {**self.saved_extra, **self.extra},
            **({"scaler": self.scaler.state_dict()} if self.scaler is not None else {})})

    def result(self, resumed_from: int) -> LoopResult:
        evals = self.history["eval"]
        final = {k: v for k, v in evals[-1].items() if k not in ("step", "seconds")} if evals else {}
        return LoopResult(self.step, self.seconds, self.history, final, self.stopped, resumed_from, self.path,
                          {**self.saved_extra, **self.extra}, self.stopped_early)


class _Losses:
    """The training losses and logs of the current log period. On a CPU each step's loss is read and checked at
    once; deferred (a GPU), they stay on the device and are read in one synchronisation (:meth:`settle`) every
    ``log_every`` steps, at evaluations, checkpoints and the end."""

    def __init__(self, defer: bool, loop: LoopConfig, run: _Run):
        self.defer, self.loop, self.run = defer, loop, run
        self.window: dict[str, list] = {}                  # name -> this period's values (tensors until read)
        self.pending: list[tuple[int, torch.Tensor]] = []  # deferred: (step, loss) not yet checked to be finite
        self.eval_at = frozenset(loop.eval_at)

    def add(self, step: int, loss: torch.Tensor, logs: Mapping[str, Any]) -> None:
        if _dist.world_size() > 1:   # the global batch's loss and logs: the mean over the processes' parts
            logs = {k: _dist.mean_across(torch.as_tensor(v, dtype=torch.float32, device=loss.device))
                    for k, v in logs.items()}
            logs = logs if self.defer else {k: float(v) for k, v in logs.items()}
        if self.defer:
            value = _dist.mean_across(loss.detach())
            self.pending.append((step, value))
        else:
            value = float(_dist.mean_across(loss.detach()))
            self.run.check_finite("the training loss", value, step)
        for k, v in {"loss": value, **logs}.items():
            self.window.setdefault(k, []).append(v.detach() if self.defer and torch.is_tensor(v) else float(v))

    def eval_due(self, step: int) -> bool:
        return bool(self.loop.eval_every and step % self.loop.eval_every == 0) or step in self.eval_at

    def end_of_step(self, step: int) -> None:
        """Deferred: read the losses where the step logs, evaluates, checkpoints or ends."""
        loop = self.loop
        if self.defer and (step >= loop.steps or (loop.log_every and step % loop.log_every == 0)
                           or self.eval_due(step) or (loop.checkpoint_every and step % loop.checkpoint_every == 0)):
            self.settle()

    def settle(self) -> None:
        """Read the deferred losses and logs (one synchronisation) and check the losses are finite."""
        if not self.pending:
            return
        values = torch.stack([v.float() for _, v in self.pending]).tolist()
        for (at, _), value in zip(self.pending, values):
            self.run.check_finite("the training loss", value, at)
        self.pending.clear()
        self.window = {k: [float(v) for v in vs] for k, vs in self.window.items()}

    def history_row(self, step: int) -> dict:
        """The period's mean of each log, as a history row; a new period begins."""
        row = {"step": step, **{k: sum(v) / len(v) for k, v in self.window.items()}}
        self.window = {}
        return row


def _check_identity(state: Mapping[str, Any], identity: Mapping[str, Any], may_change, path: Path) -> None:
    saved = state.get("identity")
    if saved is None:
        raise IncompatibleCheckpoint(f"{path} was written by an older version of the workbook (it does not say "
                                     f"what it was trained with); delete it, or pass another --out, to train anew")
    problems = []
    if saved.get("data") != identity.get("data"):
        problems.append(f"the data: {saved.get('data')!r} (saved) vs {identity.get('data')!r} (now)")
    diff = _settings.differences(saved.get("config") or {}, identity.get("config") or {}, may_change)
    if diff:
        problems.append(_settings.describe_differences(diff))
    if problems:
        raise IncompatibleCheckpoint(f"{path} was trained with other settings or data — " + "; ".join(problems)
                                     + f". Pass another --out, or delete {path} to start over")


# ---- where a training's files go ------------------------------------------------------------------------------

def run_dir(part: str, label: str, cfg: Any, data: Any = None, ignore: tuple[str, ...] = ("device", "progress")) -> Path:
    """``runs/<part>/<label>-<hash>``: the one rule for the notebooks and the command line. The hash covers
    every setting of ``cfg`` (a dataclass) but ``ignore`` and the data's fingerprint, so the same training asked
    twice (from a notebook or the CLI) finds its run, and a changed setting gets a folder of its own."""
    values = {k: v for k, v in _settings.config_dict(cfg).items() if k not in ignore}
    key = json.dumps({"config": values, "data": data}, sort_keys=True, default=str)
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return _config.runs_dir(part) / f"{label}-{digest}"


def write_result(folder: str | os.PathLike, result: Mapping[str, Any]) -> Path:
    """The JSON line of a training as ``result.json`` beside its checkpoint (strict JSON: NaN becomes null);
    under torchrun by rank 0 only."""
    path = Path(folder) / RESULT
    if not _dist.is_main():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(strict_json(result), indent=1, default=str))
    return path


def strict_json(value: Any) -> Any:
    """``value`` with NaN/inf floats as None, numpy/torch scalars as Python numbers, paths as strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, os.PathLike):
        return str(value)
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return strict_json(value.item())
    return value
