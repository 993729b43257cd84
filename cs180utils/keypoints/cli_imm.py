"""Nose-tip and all-keypoint CNNs on the IMM faces: one experiment function for the notebooks and
``python -m cs180utils train nose|keypoints``.

    >>> exp = default_experiment("nose")                  # numbers picked by the profile
    >>> run = run_experiment(exp, data_dir="/data")        # trains (or resumes / reuses a finished run)
    >>> run.summary                                        # {"val_nme": ..., "baseline_nme": ..., ...}

Training images are people 1-10 of the IMM Frontal DB (1-32 of the IMM Face DB); validation is the other
people, never seen in training. NME is in percent of the outer-eye-corner distance; ``val_mae_px`` is in
pixels of the original images; ``baseline_*`` is the mean training shape scored on the same images.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from cs180utils import config
from cs180utils.keypoints import metrics
from cs180utils.keypoints.augment import AugmentConfig, KeypointAugment, flip_permutation
from cs180utils.keypoints.cnn import KeypointCNN, predict_flip_averaged
from cs180utils.keypoints.imm import ImmFaces, is_generated, layout_of, load_imm, split_by_person
from cs180utils.keypoints.train import TrainConfig, fit, predict_all


@dataclass
class ImmExperiment:
    task: str = "nose"                       # "nose" (one point) or "keypoints" (every point)
    size: tuple[int, int] = (60, 80)         # (H, W) network input
    epochs: int = 25                         # passes over the training people
    batch_size: int = 16                     # images per step
    lr: float = 1e-3                         # Adam learning rate
    lr_min_factor: float = 1.0               # cosine decay to lr * this (1 = constant)
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
    loss: str = "mse"                        # "mse" or "l1" on the [0, 1] coordinates
    start_at_mean: bool = False              # initialise the output at the training mean shape
    tta_flip: bool = False                   # evaluate as the mean of the image's and its mirror's prediction
    seed: int = 0                            # init, shuffling, augmentation
    device: str | None = None                # None = best available

    def key(self) -> str:
        """A short hash of everything that shapes the trained model except ``epochs`` and ``device``."""
        d = dataclasses.asdict(self)
        d.pop("epochs"), d.pop("device")
        return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:8]


def default_experiment(task: str = "nose", profile: str | None = None, **overrides) -> ImmExperiment:
    """The experiment of ``task`` with the numbers of ``profile`` (smoke / cpu / full); ``overrides`` win."""
    if task == "nose":
        exp = ImmExperiment(task="nose", size=(60, 80),
                            epochs=config.by_profile(profile, smoke=2, cpu=100, full=100),
                            batch_size=config.by_profile(profile, smoke=16, cpu=8, full=8),
                            lr=1e-3, lr_min_factor=0.05, hflip=0.5, batch_norm=True,
                            channels=(12, 16, 24, 32), kernels=(5, 5, 3, 3), hidden=128)
    elif task == "keypoints":
        exp = ImmExperiment(task="keypoints", size=(120, 160),
                            epochs=config.by_profile(profile, smoke=2, cpu=80, full=80),
                            batch_size=config.by_profile(profile, smoke=16, cpu=8, full=32),
                            lr=1e-3, lr_min_factor=0.05, hflip=0.5, batch_norm=True, dropout=0.3, tta_flip=True,
                            channels=(16, 32, 48, 64, 96), kernels=(5, 3, 3, 3, 3), hidden=256)
    else:
        raise ValueError(f"unknown task {task!r}: use 'nose' or 'keypoints'")
    return dataclasses.replace(exp, **overrides)


@dataclass
class ImmRun:
    experiment: ImmExperiment
    model: nn.Module                     # trained (final weights), on the CPU, eval mode
    train_set: ImmFaces
    val_set: ImmFaces
    history: dict                        # per-epoch lists: epoch, train_loss, val_loss, val_nme
    val_pred: torch.Tensor               # (N, K, 2) validation predictions, original-image pixels
    val_true: torch.Tensor               # (N, K, 2) ground truth, original-image pixels
    summary: dict = field(default_factory=dict)   # the JSON line: val_nme, baseline_nme, val_mae_px, seconds...

    @property
    def val_nme_per_image(self) -> np.ndarray:
        return metrics.nme_per_image(self.val_pred, self.val_true, norm=self.val_set.eye_distance_px)


def build_model(exp: ImmExperiment, n_points: int) -> KeypointCNN:
    return KeypointCNN(n_points, exp.size, exp.channels, exp.kernels, exp.hidden, exp.sigmoid, exp.double,
                       exp.batch_norm, exp.dropout)


def make_datasets(exp: ImmExperiment, data_dir=None, records=None) -> tuple[ImmFaces, ImmFaces, str]:
    """``(train_set, val_set, source)`` split by person; the training set carries the augmentation."""
    if records is None:
        records, source = load_imm(data_dir=data_dir)
    else:
        source = "generated" if is_generated(records) else layout_of(records).name
    train_rec, val_rec = split_by_person(records)
    points = "nose" if exp.task == "nose" else "all"
    train_set, val_set = ImmFaces(train_rec, exp.size, points), ImmFaces(val_rec, exp.size, points)
    if exp.augment:
        perm = _flip_perm(train_set) if exp.hflip > 0 else None
        train_set.augment = KeypointAugment(AugmentConfig(brightness=exp.brightness, rotation=exp.rotation,
                                                          shift_px=exp.shift_px, scale=exp.scale, hflip=exp.hflip,
                                                          flip_perm=perm), normalized=True)
    return train_set, val_set, source


def _flip_perm(train_set: ImmFaces) -> tuple[int, ...] | None:
    """Left/right pairing of the predicted points from the training mean shape (None for a single point)."""
    if len(train_set.indices) == 1:
        return None
    return flip_permutation(train_set.keypoints.mean(0), train_set.layout.eyes)


def run_experiment(exp: ImmExperiment, data_dir=None, out_dir: str | Path | None = "auto", records=None,
                   progress: bool = True) -> ImmRun:
    """Train ``exp`` (resuming from / reusing ``out_dir``), evaluate on the held-out people.

    ``out_dir="auto"`` is ``runs/imm_<task>_<data>_<settings hash>_e<epochs>`` (a finished run is reused, an
    interrupted one resumed);
    None trains in memory without checkpoints.
    """
    t0 = time.perf_counter()
    train_set, val_set, source = make_datasets(exp, data_dir, records)
    if out_dir == "auto":
        out_dir = config.runs_dir(f"imm_{exp.task}_{source}_{exp.key()}_e{exp.epochs}")
    if out_dir is not None:
        _check_same_experiment(Path(out_dir), exp)
    config.seed_everything(exp.seed)
    model = build_model(exp, len(train_set.indices))
    train_loader = DataLoader(train_set, batch_size=exp.batch_size, shuffle=True, drop_last=len(train_set) > exp.batch_size)
    val_loader = DataLoader(val_set, batch_size=64, shuffle=False)
    val_sizes, val_norm = val_set.original_sizes[:, None, :], val_set.eye_distance_px

    def metric_fn(pred, target):
        return {"nme": metrics.nme(pred * val_sizes, target * val_sizes, norm=val_norm)}

    cfg = TrainConfig(epochs=exp.epochs, lr=exp.lr, weight_decay=exp.weight_decay, lr_min_factor=exp.lr_min_factor,
                      seed=exp.seed,
                      device=exp.device, monitor="val_loss", progress=progress)
    if exp.start_at_mean:
        model.head.start_at(train_set.keypoints.mean(0))
    losses = {"mse": nn.MSELoss(), "l1": nn.L1Loss()}
    if exp.loss not in losses:
        raise ValueError(f"unknown loss {exp.loss!r}: use {' or '.join(losses)}")
    result = fit(model, train_loader, val_loader, cfg, losses[exp.loss], out_dir, metric_fn=metric_fn,
                 extra_state={"experiment": dataclasses.asdict(exp), "layout": train_set.layout.name,
                              "indices": train_set.indices})
    model.cpu().eval()
    pred, true = predict_all(model, val_loader, device="cpu")
    extra = {}
    if exp.tta_flip:
        extra["val_nme_single"] = round(metrics.nme(val_set.to_pixels(pred), val_set.to_pixels(true),
                                                    norm=val_norm), 3)
        perm = _flip_perm(train_set)
        pred = torch.cat([predict_flip_averaged(model, x, perm) for x, _ in val_loader])
    pred_px, true_px = val_set.to_pixels(pred), val_set.to_pixels(true)
    train_px = train_set.to_pixels(train_set.keypoints)
    ev = metrics.evaluate(pred_px, true_px, norm=val_norm, train_points=train_px)
    summary = {"val_nme": round(ev["nme"], 3), "baseline_nme": round(ev["baseline_nme"], 3),
               "val_mae_px": round(ev["mae_px"], 3), "baseline_mae_px": round(ev["baseline_mae_px"], 3),
               "seconds": round(time.perf_counter() - t0, 1), "train_seconds_this_call": round(result["seconds"], 1),
               "epochs": len(result["history"]["epoch"]), "final_train_loss": result["final"]["train_loss"],
               "n_train": len(train_set), "n_val": len(val_set), "layout": train_set.layout.name,
               "data": source, "profile": config.get_profile(), "checkpoint": result["checkpoint"], **extra}
    return ImmRun(exp, model, train_set, val_set, result["history"], pred_px, true_px, summary)


def _check_same_experiment(out_dir: Path, exp: ImmExperiment) -> None:
    """Refuse to resume a checkpoint of different settings (same shapes would otherwise load silently)."""
    last = out_dir / "last.pt"
    if not last.exists():
        return
    from cs180utils.checkpoint import load_checkpoint  # noqa: PLC0415
    saved = load_checkpoint(last).get("extra", {}).get("experiment")
    if saved is None:
        return
    saved_exp = ImmExperiment(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})
    if saved_exp.key() != exp.key():
        diff = {k: (getattr(saved_exp, k), getattr(exp, k)) for k in saved
                if k not in ("epochs", "device") and getattr(saved_exp, k) != getattr(exp, k)}
        raise ValueError(f"{last} was trained with other settings {diff} (saved, asked); pass another --out "
                         f"or delete {out_dir} to start over")


# ---- command line ---------------------------------------------------------------------------------------

def add_arguments(parser, command: str) -> None:
    g = parser.add_argument_group(command)
    g.add_argument("--epochs", type=int, default=None, help="epochs (default: by profile)")
    g.add_argument("--batch-size", type=int, default=None, help="batch size (default: by profile)")
    g.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 1e-3)")
    g.add_argument("--no-sigmoid", action="store_true", help="linear output instead of a sigmoid")
    g.add_argument("--no-augment", action="store_true", help="train without data augmentation")
    g.add_argument("--imm-dir", default=None, help="the IMM folder itself (default: found under --data-dir)")
    g.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: torch's choice; 1 is faster on a busy machine)")


def run(args, command: str) -> dict:
    task = "nose" if command.endswith("nose") else "keypoints"
    if args.threads:
        torch.set_num_threads(args.threads)
    over = {"seed": args.seed, "device": args.device}
    if args.epochs is not None:
        over["epochs"] = args.epochs
    if args.batch_size is not None:
        over["batch_size"] = args.batch_size
    if args.lr is not None:
        over["lr"] = args.lr
    if args.no_sigmoid:
        over["sigmoid"] = False
    if args.no_augment:
        over["augment"] = False
    exp = default_experiment(task, args.profile, **over)
    if args.profile:
        import os  # noqa: PLC0415
        os.environ["CS180_PROFILE"] = args.profile
    records = None
    if args.imm_dir:
        from cs180utils.keypoints.imm import read_imm_folder  # noqa: PLC0415
        records = read_imm_folder(args.imm_dir)
    out = Path(args.out) if args.out else config.runs_dir(f"{task}")
    t0 = time.perf_counter()
    r = run_experiment(exp, data_dir=args.data_dir, out_dir=out, records=records, progress=sys.stderr.isatty())
    r.summary["seconds"] = round(time.perf_counter() - t0, 1)
    return r.summary
