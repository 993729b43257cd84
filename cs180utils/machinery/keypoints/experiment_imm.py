"""Nose-tip and all-keypoint CNNs on the IMM faces: the experiment behind notebooks 05 and 06 and
``python -m cs180utils train nose|keypoints``.

    >>> cfg = config("nose", "cpu", epochs=10)        # the profile's preset, then overrides (UNSET ones dropped)
    >>> run = train(cfg, data_dir="/data")             # trains, resumes or reuses runs/imm/nose-<hash>/
    >>> run.summary                                    # {"val_nme": ..., "baseline_nme": ..., "val_mae_px": ...}

Training images are people 1-10 of the IMM Frontal DB (1-32 of the IMM Face DB); validation is the other
people, never seen in training. The keypoints presets look twice (``zoom``): a second CNN reads the points again
from a crop around the first one's (``val_nme`` is then the second's, ``val_nme_first`` the first's). NME is in
percent of the outer-eye-corner distance; ``val_mae_px`` is in pixels of the original images; ``baseline_*`` is
the mean training shape scored on the same images.

Coordinates: the datasets give keypoints in continuous pixel coordinates of the network input (the package's
one convention, see :mod:`cs180utils.keypoints`). The CNN's sigmoid head predicts fractions of the input size,
so this module divides the targets by (W, H) for the loss and multiplies the outputs by it in :func:`predict`.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from cs180utils.machinery import config as _config
from cs180utils.machinery import distributed, settings, sources, training
from cs180utils.keypoints import metrics, steps
from cs180utils.keypoints.augment import AugmentConfig, KeypointAugment, flip_permutation
from cs180utils.keypoints.cnn import KeypointCNN, plain_blocks, predict_flip_averaged
from cs180utils.keypoints.imm import (ImmFaces, ImmRecord, layout_of, read_imm_folder,
                                      split_by_person, zoom_frames)

RegressionLoss = Literal[steps.REGRESSION_LOSSES]   # the losses keypoints.steps.regression_loss knows
EVAL_BATCH = 64   # images per forward pass when predicting
ZOOM_CHECKPOINT = "zoom.pt"   # the second stage's checkpoint, beside the first one's in the run folder


@dataclass
class ImmConfig:
    task: Literal["nose", "keypoints"] = "nose"  # "nose" (one point) or "keypoints" (every point)
    size: tuple[int, int] = (60, 80)         # (H, W) network input
    epochs: int = 25                         # passes over the training people
    max_seconds: float | None = None         # stop training after this many seconds (None: no cap)
    batch_size: int = 16                     # images per step
    lr: float = 1e-3                         # Adam learning rate
    lr_min_factor: float = 1.0               # cosine decay over the steps to lr * this (1 = constant)
    sigmoid: bool = True                     # squash outputs to (0, 1) (see notebook 05)
    augment: bool = True                     # brightness / rotation / shift with keypoints following
    brightness: float = 0.3                  # brightness factor range 1 -+ this
    rotation: float = 15.0                   # degrees, +-
    shift_px: float = 10.0                   # pixels of the network input, +-
    scale: tuple[float, float] | None = None  # zoom range or None
    hflip: float = 0.0                       # probability of a mirror image (left/right points swapped)
    channels: tuple[int, ...] = (12, 16, 24, 32)  # conv block widths (one max-pool each)
    kernels: tuple[int, ...] = (5, 5, 3, 3)  # conv kernel sizes
    hidden: int = 128                        # hidden FC width
    double: bool = False                     # two convolutions per block
    batch_norm: bool = False                 # BatchNorm after each conv
    dropout: float = 0.0                     # dropout before the last FC layer
    weight_decay: float = 0.0                # Adam weight decay
    loss: RegressionLoss = "mse"             # "mse" or "l1" on the [0, 1] coordinates
    start_at_mean: bool = False              # initialise the output at the training mean shape
    tta_flip: bool = False                   # evaluate as the mean of the image's and its mirror's prediction
    zoom: float | None = None                # a second CNN (same settings) on a crop around the first one's
                                             # points, their box this fraction of its width (None: one stage)
    zoom_scale: tuple[float, float] | None = None  # zoom range of the second CNN's training crops (its `scale`):
                                             # it must measure the face's size, not learn the crop's
    seed: int = 0                            # init, shuffling, augmentation
    device: str | None = None                # None = best available

    def __post_init__(self):
        settings.check(self, positive=("size", "epochs", "max_seconds", "batch_size", "lr", "lr_min_factor",
                                       "channels", "kernels", "hidden", "scale", "zoom_scale"),
                       nonnegative=("brightness", "rotation", "shift_px", "weight_decay", "seed"),
                       fraction=("hflip", "dropout", "lr_min_factor"))
        if len(self.channels) != len(self.kernels):
            raise settings.SettingError("kernels", f"needs one kernel size per conv block ({len(self.channels)} "
                                                   f"channels), got {self.kernels}")
        if self.zoom is not None:
            if self.task != "keypoints":
                raise ValueError(f"zoom needs the keypoints task (a box of points to frame); task {self.task!r} "
                                 f"takes zoom=None")
            if not 0 < self.zoom <= 1:
                raise settings.SettingError("zoom", f"zoom is the fraction of the crop's width the face's points span: in (0, 1], "
                                 f"got {self.zoom} (None: no second stage)")


# The course's networks; per profile only the length of training and the batch differ.
_NOSE = dict(task="nose", size=(60, 80), lr=1e-3, lr_min_factor=0.05, hflip=0.5, batch_norm=True,
             channels=(12, 16, 24, 32), kernels=(5, 5, 3, 3), hidden=128)
_KEYPOINTS = dict(task="keypoints", size=(120, 160), lr=1e-3, lr_min_factor=0.05, hflip=0.5, batch_norm=True,
                  dropout=0.3, tta_flip=True, channels=(16, 32, 48, 64, 96), kernels=(5, 3, 3, 3, 3), hidden=256,
                  zoom=0.6, zoom_scale=(0.8, 1.25))
# Per task, one table: the profiles' presets, then the named ones laid over a profile's (``config(...,
# preset="course")``, ``--preset course``, ``CS180_PRESET``). "course": the write-up's plain nose network: conv ->
# ReLU -> max-pool blocks and two FC layers with a sigmoid output, no BatchNorm, no augmentation, no mirror
# images, Adam at a constant 1e-3, MSE. How long it trains (epochs, max_seconds) and the batch stay the profile's.
PRESETS: dict[str, dict[str, dict]] = {
    "nose": {
        "smoke": {**_NOSE, "epochs": 2, "batch_size": 16},
        "cpu": {**_NOSE, "epochs": 100, "batch_size": 8},
        "full": {**_NOSE, "epochs": 100, "batch_size": 8},
        "course": dict(size=(60, 80), lr=1e-3, lr_min_factor=1.0, sigmoid=True, augment=False, hflip=0.0,
                       channels=(12, 16, 24, 32), kernels=(5, 5, 3, 3), hidden=128, double=False, batch_norm=False,
                       dropout=0.0, weight_decay=0.0, loss="mse", start_at_mean=False, tta_flip=False),
    },
    "keypoints": {
        "smoke": {**_KEYPOINTS, "epochs": 2, "batch_size": 16},
        "cpu": {**_KEYPOINTS, "epochs": 80, "batch_size": 8},
        "full": {**_KEYPOINTS, "epochs": 80, "batch_size": 32},
    },
}


RUN_SETTINGS = ("epochs", "max_seconds", "batch_size", "seed", "device")   # how long, not what: not compared

# Why each profile's nose preset departs from the course's recipe, per setting (notebook 05 prints the ones that
# differ; a test checks that every difference has its reason here). The three profiles share the network.
_WHY_NOSE = {
    "augment": "brightness, rotation and shift of the training faces with the nose tip following: the few "
               "training people (split by person) are otherwise memorised",
    "hflip": "a mirror image half of the time: twice the faces to learn from",
    "batch_norm": "BatchNorm after each convolution: the workbook's network for the augmented faces "
                  "(its effect alone is not measured here)",
    "lr_min_factor": "the learning rate decays along a cosine to 5 % of its start, settling the last epochs",
}
WHY_NOT_COURSE: dict[str, dict[str, dict[str, str]]] = {"nose": {p: _WHY_NOSE for p in ("smoke", "cpu", "full")}}


def config(task: str = "nose", profile: str | None = None, preset: str | None = None, **overrides) -> ImmConfig:
    """The experiment of ``task`` with the preset of ``profile`` (smoke / cpu / full; None: the active one),
    then the named ``preset`` (``"course"`` for the nose; default: ``$CS180_PRESET`` where the task has it, else
    none), then ``overrides`` (:data:`cs180utils.machinery.settings.UNSET` ones dropped); :data:`PRESETS`."""
    if task not in PRESETS:
        raise ValueError(f"unknown task {task!r}: use {' or '.join(PRESETS)}")
    return settings.make_config(ImmConfig, PRESETS[task], profile, preset, **overrides)


def course_deviations(cfg: ImmConfig, profile: str | None = None) -> list[tuple]:
    """Where ``cfg`` departs from the course's recipe of its task (how long it trains left out), with the reasons
    of ``profile`` (default: the active one): rows ``(setting, course, cfg, why)``."""
    course = config(cfg.task, profile, preset="course")
    why = WHY_NOT_COURSE.get(cfg.task, {}).get(_config.get_profile(profile), {})
    return settings.deviations(course, cfg, why, ignore=RUN_SETTINGS)


# ---- the write-up's tuning of the plain nose network: layers, channels, learning rate ---------------------------

# Per profile, the values tried of each knob: conv blocks (layers), a factor on every block's channels (width,
# see cnn.plain_blocks) and Adam's learning rate. smoke / cpu: one knob at a time around the course's network
# (layers 4, width 1, lr 1e-3); full: every combination (the grid).
SWEEP: dict[str, dict] = {
    "smoke": dict(layers=(3,), width=(), lr=(3e-3,), grid=False),
    "cpu": dict(layers=(3, 5), width=(0.5, 2.0), lr=(3e-4, 3e-3), grid=False),
    "full": dict(layers=(3, 4, 5), width=(0.5, 1.0, 2.0), lr=(3e-4, 1e-3, 3e-3), grid=True),
}


def tuned(base: ImmConfig, layers: int = 4, width: float = 1.0, lr: float | None = None) -> ImmConfig:
    """``base`` with ``layers`` plain conv blocks ``width`` times as wide (:func:`cnn.plain_blocks`) and
    learning rate ``lr`` (None: base's)."""
    channels, kernels = plain_blocks(layers, width)
    return settings.replace(base, channels=channels, kernels=kernels, lr=base.lr if lr is None else lr)


def sweep(base: ImmConfig, profile: str | None = None) -> dict[str, ImmConfig]:
    """The tuning runs of :data:`SWEEP` for ``profile`` (default: the active one) around ``base`` (the course's
    plain nose network, 4 blocks, width 1): ``{label: config}``, the base first as ``"layers 4, width 1, lr
    1e-03"``. smoke / cpu vary one knob at a time; full runs the whole grid (3 x 3 x 3 = 27 in its table)."""
    plan = SWEEP[_config.get_profile(profile)]
    start = (len(base.channels), 1.0, base.lr)
    if plan["grid"]:
        points = list(itertools.product(plan["layers"] or start[:1], plan["width"] or start[1:2],
                                        plan["lr"] or start[2:]))
    else:
        points = [start] + [(v, 1.0, base.lr) for v in plan["layers"]] + \
                 [(start[0], v, base.lr) for v in plan["width"]] + [(start[0], 1.0, v) for v in plan["lr"]]
    points = sorted(set(points), key=points.index)
    if start in points:
        points.remove(start)
    return {f"layers {n}, width {w:g}, lr {lr:.0e}": tuned(base, n, w, lr) for n, w, lr in [start, *points]}


# ---- data -------------------------------------------------------------------------------------------------------

def load_records(data_dir=None, imm_dir=None) -> tuple[list[ImmRecord], str]:
    """``(records, source)``: the faces of ``imm_dir`` if given, else the IMM folder found under ``data_dir`` /
    ``$CS180_DATA_DIR`` / ``data/``, else generated faces (with a notice). ``source``: ``imm58``, ``frontal73`` or
    ``generated``."""
    if imm_dir is not None:
        records = read_imm_folder(imm_dir)
        return records, source_of(records)
    return sources.load_imm(data_dir=data_dir)


def source_of(records: Sequence[ImmRecord]) -> str:
    """``"generated"`` for generated faces, else the layout's name (``imm58`` / ``frontal73``)."""
    return "generated" if sources.is_generated(records) else layout_of(records).name


def data_id(records: Sequence[ImmRecord]) -> str:
    """What a run trains on, for its folder and its resume check: ``"frontal73:120"``, ``"generated:120"``."""
    return f"{source_of(records)}:{len(records)}"


def make_datasets(cfg: ImmConfig, records: Sequence[ImmRecord], frames: tuple | None = None
                  ) -> tuple[ImmFaces, ImmFaces]:
    """``(train_set, val_set)`` split by person; the training set carries the augmentation. ``frames``:
    ``(train_frames, val_frames)``, the part of each image the sets show (:class:`ImmFaces`; None: all of it)."""
    train_rec, val_rec = split_by_person(records)
    points = "nose" if cfg.task == "nose" else "all"
    train_frames, val_frames = frames if frames is not None else (None, None)
    train_set = ImmFaces(train_rec, cfg.size, points, frames=train_frames)
    val_set = ImmFaces(val_rec, cfg.size, points, frames=val_frames)
    if cfg.augment:
        perm = flip_perm(train_set) if cfg.hflip > 0 else None
        train_set.augment = KeypointAugment(AugmentConfig(brightness=cfg.brightness, rotation=cfg.rotation,
                                                          shift_px=cfg.shift_px, scale=cfg.scale, hflip=cfg.hflip,
                                                          flip_perm=perm))
    return train_set, val_set


def flip_perm(train_set: ImmFaces) -> tuple[int, ...] | None:
    """Left/right pairing of the predicted points from the training mean shape (None for a single point)."""
    if len(train_set.indices) == 1:
        return None
    return flip_permutation(train_set.keypoints.mean(0), train_set.layout.eyes)


# ---- model ------------------------------------------------------------------------------------------------------

def build_model(cfg: ImmConfig, n_points: int) -> KeypointCNN:
    """The CNN of ``cfg``: (B, 1, H, W) -> (B, n_points, 2), (x, y) fractions of the input size."""
    return KeypointCNN(n_points, cfg.size, cfg.channels, cfg.kernels, cfg.hidden, cfg.sigmoid, cfg.double,
                       cfg.batch_norm, cfg.dropout)


def unit(cfg: ImmConfig) -> torch.Tensor:
    """(2,) (W, H) of the network input: pixel keypoints / unit = the [0, 1] numbers the network learns."""
    return torch.tensor([cfg.size[1], cfg.size[0]], dtype=torch.float32)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, cfg: ImmConfig, flip: tuple[int, ...] | None = None,
            tta_flip: bool | None = None) -> torch.Tensor:
    """Keypoints of ``images`` (N, 1, H, W): (N, K, 2) continuous pixel coordinates of the input, on the CPU.

    ``tta_flip`` (default ``cfg.tta_flip``) averages each prediction with the mirrored one of the mirror image,
    whose points ``flip`` pairs (see :func:`flip_perm`; None for a single point)."""
    return _outputs(model, images, cfg.tta_flip if tta_flip is None else tta_flip, flip) * unit(cfg)


def _outputs(model: nn.Module, images: torch.Tensor, tta_flip: bool, flip) -> torch.Tensor:
    """The network's answers (N, K, 2) in [0, 1] fractions, evaluated in batches in eval mode, on the CPU."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for i in range(0, len(images), EVAL_BATCH):
            x = images[i:i + EVAL_BATCH].to(device)
            out.append((predict_flip_averaged(model, x, flip) if tta_flip else model(x)).cpu())
    model.train(was_training)
    return torch.cat(out)


# ---- evaluation -------------------------------------------------------------------------------------------------

def evaluate(model: nn.Module, val_set: ImmFaces, cfg: ImmConfig) -> dict[str, float]:
    """The per-epoch check (one pass, no mirror averaging): ``val_loss`` (the training loss on [0, 1]
    coordinates) and ``val_nme`` (percent of the outer-eye-corner distance, original pixels)."""
    out = _outputs(model, val_set.images, False, None)                    # (N, K, 2) in [0, 1]
    target = val_set.keypoints / val_set.input_size
    loss = float(steps.regression_loss(out, target, cfg.loss))
    nme = metrics.nme(val_set.to_original(out * val_set.input_size), val_set.to_original(val_set.keypoints),
                      norm=val_set.eye_distance_px)
    return {"val_loss": loss, "val_nme": float(nme)}


def score(model: nn.Module, train_set: ImmFaces, val_set: ImmFaces, cfg: ImmConfig) -> tuple[dict, torch.Tensor]:
    """The final score on the held-out people: ``(metrics, predictions (N, K, 2) in original-image pixels)``.

    metrics: ``val_nme``, ``baseline_nme`` (%), ``val_mae_px``, ``baseline_mae_px`` (original pixels), and
    with ``cfg.tta_flip`` ``val_nme_single``, the NME without mirror averaging."""
    true = val_set.to_original(val_set.keypoints)
    norm = val_set.eye_distance_px
    extra = {}
    if cfg.tta_flip:
        single = val_set.to_original(predict(model, val_set.images, cfg, tta_flip=False))
        extra["val_nme_single"] = round(metrics.nme(single, true, norm=norm), 3)
    pred = val_set.to_original(predict(model, val_set.images, cfg, flip_perm(train_set)))
    ev = metrics.evaluate(pred, true, norm=norm, train_points=train_set.to_original(train_set.keypoints))
    return {"val_nme": round(ev["nme"], 3), "baseline_nme": round(ev["baseline_nme"], 3),
            "val_mae_px": round(ev["mae_px"], 3), "baseline_mae_px": round(ev["baseline_mae_px"], 3), **extra}, pred


# ---- training ---------------------------------------------------------------------------------------------------

@dataclass
class ImmRun:
    config: ImmConfig
    model: nn.Module                     # trained (final weights), on the CPU, eval mode
    train_set: ImmFaces
    val_set: ImmFaces
    history: dict                        # per evaluated epoch, lists: epoch, train_loss, val_loss, val_nme
    val_pred: torch.Tensor               # (N, K, 2) validation predictions (the last stage's), original pixels
    val_true: torch.Tensor               # (N, K, 2) ground truth, original-image pixels
    summary: dict = field(default_factory=dict)   # the JSON line: val_nme, baseline_nme, val_mae_px, seconds...
    zoom_model: nn.Module | None = None  # the second stage (cfg.zoom), on the CPU, eval mode; else None
    zoom_history: dict | None = None     # its per-epoch history, as ``history``
    zoom_val_set: ImmFaces | None = None  # the validation faces framed around the first stage's points
    val_pred_first: torch.Tensor | None = None   # (N, K, 2) the first stage's predictions there, original pixels

    @property
    def val_nme_per_image(self) -> np.ndarray:
        return metrics.nme_per_image(self.val_pred, self.val_true, norm=self.val_set.eye_distance_px)

    def predict_records(self, records: Sequence[ImmRecord]) -> torch.Tensor:
        """Keypoints of any annotated faces (e.g. :func:`load_records`' ones) read as in the final score, both
        stages with ``config.zoom``: (N, K, 2) original-image pixels."""
        cfg, perm = self.config, flip_perm(self.train_set)
        faces = ImmFaces(records, cfg.size, self.train_set.indices)
        pred = faces.to_original(predict(self.model, faces.images, cfg, perm))
        if self.zoom_model is not None:
            near = ImmFaces(records, cfg.size, self.train_set.indices, frames=zoom_frames(pred, cfg.zoom, cfg.size))
            pred = near.to_original(predict(self.zoom_model, near.images, cfg, perm))
        return pred


def run_folder(cfg: ImmConfig, records: Sequence[ImmRecord]) -> Path:
    """``runs/imm/<task>-<hash of the settings and data>``: the one run folder of the notebooks and the CLI."""
    return training.run_dir("imm", cfg.task, cfg, data=data_id(records))


def train(cfg: ImmConfig, records: Sequence[ImmRecord] | None = None, data_dir=None,
          out: str | Path | None = "auto", resume: bool = True, progress: bool = True) -> ImmRun:
    """Train ``cfg`` on ``records`` (default: :func:`load_records` of ``data_dir``) and score it on the held-out
    people.

    ``out``: the run folder for ``checkpoint.pt`` and ``result.json`` (``"auto"``: :func:`run_folder`; None: in
    memory, no checkpoint). A finished run there is reused, an interrupted one resumed (``resume=False``
    starts over). One optimizer step per batch, ``epochs`` x batches per epoch in all, with an evaluation and
    a checkpoint after each epoch and the learning rate on a cosine to ``lr * lr_min_factor``.

    With ``cfg.zoom`` a second network of the same settings then learns the points from a closer crop: the
    training faces framed around their annotated points (:func:`~cs180utils.keypoints.imm.zoom_frames`), the
    validation faces around the first network's predictions, as a new face would be. Its checkpoint is
    ``zoom.pt`` in the same folder (``max_seconds`` caps each stage); ``val_nme`` is then the second stage's,
    ``val_nme_first`` the first one's.
    """
    t0 = time.perf_counter()
    if records is None:
        records, _ = load_records(data_dir)
    train_set, val_set = make_datasets(cfg, records)
    folder = run_folder(cfg, records) if out == "auto" else (Path(out) if out is not None else None)
    identity = {"config": settings.config_dict(cfg), "data": data_id(records)}
    model, result, per_epoch = _fit(cfg, train_set, val_set, folder / training.CHECKPOINT if folder else None,
                                    identity, resume, progress, f"train {cfg.task}")
    scores, val_pred = score(model, train_set, val_set, cfg)
    history = epoch_history(result.history, per_epoch)
    stages = [result]
    zoom_model = zoom_history = zoom_val = first_pred = None
    if cfg.zoom is not None:
        first_pred = val_pred
        frames = (zoom_frames(train_set.to_original(train_set.keypoints), cfg.zoom, cfg.size),
                  zoom_frames(val_pred, cfg.zoom, cfg.size))
        zoom_train, zoom_val = make_datasets(settings.replace(cfg, scale=cfg.zoom_scale), records, frames)
        zoom_model, zoom_result, _ = _fit(cfg, zoom_train, zoom_val, folder / ZOOM_CHECKPOINT if folder else None,
                                          {**identity, "stage": "zoom"}, resume, progress, f"zoom {cfg.task}")
        first = scores
        scores, val_pred = score(zoom_model, zoom_train, zoom_val, cfg)
        scores["val_nme_first"] = first["val_nme"]
        zoom_history = epoch_history(zoom_result.history, per_epoch)
        stages.append(zoom_result)
    summary = {**scores, "seconds": round(time.perf_counter() - t0, 1),
               "train_seconds": round(sum(r.seconds for r in stages), 1),
               "epochs": _epochs(result.step, per_epoch), "steps": result.step,
               "final_train_loss": history["train_loss"][-1] if history["train_loss"] else None,
               "stopped_at_max_seconds": any(r.stopped_at_max_seconds for r in stages),
               "resumed_from_step": result.resumed_from,
               "n_train": len(train_set), "n_val": len(val_set), "layout": train_set.layout.name,
               "data": source_of(records), "checkpoint": str(result.checkpoint) if folder is not None else None}
    if cfg.zoom is not None:
        summary.update(zoom=cfg.zoom, zoom_epochs=_epochs(stages[1].step, per_epoch),
                       zoom_train_seconds=round(stages[1].seconds, 1))
    if folder is not None:
        training.write_result(folder, summary)
    return ImmRun(cfg, model, train_set, val_set, history, val_pred, val_set.to_original(val_set.keypoints), summary,
                  zoom_model, zoom_history, zoom_val, first_pred)


def _fit(cfg: ImmConfig, train_set: ImmFaces, val_set: ImmFaces, checkpoint: Path | None, identity: dict,
         resume: bool, progress: bool, desc: str) -> tuple[nn.Module, training.LoopResult, int]:
    """One network of ``cfg`` trained on ``train_set`` (checked on ``val_set`` each epoch): ``(model on the
    CPU in eval mode, the loop's result, batches per epoch)``."""
    device = _config.pick_device(cfg.device)
    _config.seed_everything(cfg.seed)
    model = build_model(cfg, len(train_set.indices))
    if cfg.start_at_mean:
        model.head.start_at(train_set.keypoints.mean(0) / train_set.input_size)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True,
                        drop_last=len(train_set) > cfg.batch_size)
    per_epoch = len(loader)
    size = unit(cfg).to(device)                                        # (2,) (W, H) of the input
    batches = None

    def step_fn(step: int) -> torch.Tensor:   # draws the batch; the course's step (steps.py) makes the loss
        nonlocal batches
        if batches is None:   # from the step the loop starts at (a resumed run sees the batches it would have)
            batches = training.epoch_batches(loader, per_epoch, start_step=step, seed=cfg.seed)
        x, y = next(batches)                                           # (B, 1, H, W), (B, K, 2) pixels
        return steps.regression_step(model, x.to(device), y.to(device), size, cfg.loss)

    loop = training.LoopConfig(steps=cfg.epochs * per_epoch, max_seconds=cfg.max_seconds, eval_every=per_epoch,
                               checkpoint_every=per_epoch, log_every=per_epoch)
    distributed.single_process("the IMM keypoint CNN")
    result = training.train_loop(
        model, optimizer, step_fn, loop, schedule=training.Cosine(cfg.lr_min_factor),
        evaluate=lambda step: evaluate(model, val_set, cfg), checkpoint=checkpoint, identity=identity,
        extra={"layout": train_set.layout.name, "indices": list(train_set.indices)},
        resume=resume, progress=progress, desc=desc)
    model.cpu().eval()
    return model, result, per_epoch


def _epochs(step: int, per_epoch: int) -> float:
    return step // per_epoch if step % per_epoch == 0 else round(step / per_epoch, 2)


def epoch_history(history: dict, per_epoch: int) -> dict[str, list]:
    """The loop's history (``train`` rows every epoch, ``eval`` rows) as lists per evaluated epoch: ``epoch``,
    ``train_loss`` (the epoch's mean batch loss; NaN where a time cap cut the epoch), ``val_loss``, ``val_nme``."""
    train_loss = {row["step"]: row["loss"] for row in history["train"]}
    rows = history["eval"]
    return {"epoch": [_epochs(r["step"], per_epoch) for r in rows],
            "train_loss": [train_loss.get(r["step"], float("nan")) for r in rows],
            "val_loss": [r["val_loss"] for r in rows], "val_nme": [r["val_nme"] for r in rows]}
