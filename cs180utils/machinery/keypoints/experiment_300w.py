"""68-point keypoints on iBUG 300-W: ResNet18 regression and U-Net heatmaps (notebooks 07-09 and
``python -m cs180utils train resnet|unet|unet-binary``).

    cfg = config("unet", max_seconds=480)          # the profile's preset, then overrides
    data = load_data(cfg)                          # crops of the 300-W train and test faces (or generated ones)
    res = train(cfg, data)                         # in run_dir(cfg, data); resumes; res.model, res.result
    ev = evaluate(res.model, cfg, data.val, res.mean_shape)   # NME, MAE, baseline, predictions (original pixels)

Training uses ``labels_ibug_300W_train.xml`` and validates on ``labels_ibug_300W_test.xml`` (the 100 test
faces), both from the 300-W folder of the data directory; without it, generated faces written as dlib XML
(:func:`cs180utils.machinery.keypoints.synthetic.write_300w_folder`, with a notice). Every reported number is in
original-image pixels: predictions on the crop are mapped back. Training runs on the workbook's one loop
(:func:`cs180utils.machinery.training.train_loop`): AdamW, a one-cycle schedule on max(step, time) progress, validation
every ``eval_every`` epochs and at the end, a checkpoint after every epoch in the run folder, which the same
call resumes. A notebook and the command line asking for the same settings share the run folder
(:func:`run_dir`), so neither trains a finished model again.
"""
from __future__ import annotations

import os
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch
import torch.nn as nn

from cs180utils.machinery import config as _config
from cs180utils.machinery import distributed, settings, sources, training
from cs180utils.machinery.checkpoint import load_checkpoint, load_weights, save_checkpoint
from cs180utils.keypoints import heatmaps as hm
from cs180utils.keypoints import ibug, metrics, steps
from cs180utils.keypoints.cnn import mirror_points
from cs180utils.machinery.keypoints.weights import load_imagenet_resnet18
from cs180utils.keypoints.resnet import KeypointResNet
from cs180utils.keypoints.unet import UNet

COMMANDS = ("resnet", "unet", "unet-binary")   # the experiments, named as the `train` commands
PART = "300w"                                  # runs/300w/<name>-<hash>
GENERATED = "generated_300w-v2"                # runs/ folder of the generated stand-in faces (bump on a change)


@dataclass(frozen=True)
class Network:
    """A 300-W network: whether it outputs heatmaps (read out by soft-argmax; else it regresses (B, K, 2) crop
    units) and how to build it from the config, the mean training shape (K, 2) and the number of keypoints."""
    heatmaps: bool
    build: Callable[["Config300W", "torch.Tensor | None", int], nn.Module]


# Config300W.model -> its network. Another heatmap network (an hourglass, say) is a module of the course library,
# a line here and its presets (PRESETS, and COMMANDS / cli.COMMANDS for its train command): the loss, the read-outs,
# the mirror averaging and the options follow `heatmaps`.
NETWORKS: dict[str, Network] = {
    "resnet": Network(False, lambda cfg, mean, k: KeypointResNet(
        k, 1, mean_shape=mean, backbone=load_imagenet_resnet18() if cfg.pretrained else None)),
    "unet": Network(True, lambda cfg, mean, k: UNet(1, k, widths=cfg.widths)),
}


@dataclass
class Config300W:
    """One 300-W experiment. :func:`config` fills it from :data:`PRESETS` by profile."""
    model: Literal[tuple(NETWORKS)] = "resnet"  # "resnet" (regression, L1 in crop units) or "unet" (heatmaps):
                                          # NETWORKS
    target: Literal["gaussian", "binary"] = "gaussian"  # unet: heatmap targets, "gaussian" or "binary"
    crop_size: int = 128                  # side of the square face crop in pixels, the network's input (course: 224)
    margin: float = 0.2                   # crop = face box grown by this fraction of its larger side on each side
    epochs: int = 60                      # passes over the training faces
    max_seconds: float | None = None      # stop after this many training seconds, the schedule following time
                                          # (None: the epochs decide)
    batch_size: int = 32                  # faces per optimizer step
    lr: float = 1e-3                      # AdamW peak learning rate (one-cycle: warm-up, then cosine to 0)
    weight_decay: float = 1e-4            # AdamW decoupled weight decay
    sigma: float = 2.0                    # unet, gaussian targets: standard deviation in heatmap pixels
    loss: Literal["ce", "mse", "bce"] = "ce"  # unet: "ce" (spatial softmax), "mse" or "bce"
    window: int | None = 4                # unet soft-argmax: average within this many pixels of each peak
                                          # (None: over the whole map)
    widths: tuple[int, ...] = (16, 32, 64, 128)  # unet channels per level, finest first
    pretrained: bool = False              # resnet: start from ImageNet weights when they can be downloaded
    rotation: float = 15.0                # augmentation: rotation range in degrees
    shift: float = 0.06                   # augmentation: shift range as a fraction of the crop side
    scale: tuple[float, float] = (0.9, 1.1)  # augmentation: zoom range
    brightness: float = 0.3               # augmentation: brightness factor range 1 +- this
    hflip: float = 0.0                    # augmentation: probability of a mirror image (left/right points
                                          # swapped by ibug.FLIP_300W)
    tta_flip: bool = False                # predict the mean of the keypoints of the face and of its mirror image
                                          # mirrored back, each less its mean error on the training faces
                                          # (mirror_offsets; twice the evaluation cost)
    max_train: int | None = None          # use only the first N training faces (None: all)
    max_val: int | None = None            # use only the first N validation faces (None: all)
    eval_every: int = 1                   # validate every N epochs (and always at the end)
    seed: int = 0                         # seeds the initialisation, the shuffling and the augmentation
    device: str | None = None             # "cpu", "cuda", "mps"; None: the best available

    def __post_init__(self):
        self.widths, self.scale = tuple(self.widths), tuple(float(v) for v in self.scale)
        settings.check(self, positive=("crop_size", "epochs", "max_seconds", "batch_size", "lr", "sigma", "widths",
                                       "scale", "max_train", "max_val", "eval_every"),
                       nonnegative=("margin", "weight_decay", "window", "rotation", "shift", "brightness", "seed"),
                       fraction=("hflip",))
        if len(self.widths) < 2:
            raise settings.SettingError("widths", f"needs at least two levels, e.g. 16,32,64; got {self.widths}")

    @property
    def heatmaps(self) -> bool:
        """Whether the network outputs heatmaps (:data:`NETWORKS`); else it regresses the keypoints."""
        return NETWORKS[self.model].heatmaps

    @property
    def name(self) -> str:
        """The experiment's name: its `train` command (``resnet``, ``unet``, ``unet-binary``)."""
        return self.model if not self.heatmaps or self.target == "gaussian" else f"{self.model}-binary"


_SMOKE = dict(epochs=2, batch_size=16, max_train=64, max_val=32)
# Every U-Net reads the mirror image too, with the calibrated average (mirror_offsets): the cpu preset 3.56 -> 3.43 %
# (binary masks 3.55 -> 3.40 %), where the uncorrected average did not help (README: results, other measurements)
_UNET = {"smoke": dict(_SMOKE, model="unet", crop_size=64, widths=(8, 16, 32), lr=2e-3, max_train=48, max_val=24,
                       tta_flip=True),
         # cpu: the time budget ends a laptop run when promised (the schedule follows time; the epochs only cap
         # it). Five levels: the 6x6 bottleneck of the 96 px crop sees the whole face (the jaw line, occluded
         # points): 3.63 % against 3.85 % with four. sigma 1.5: 3.55 % against 3.60 % with 2.0 after the same 40
         # epochs (channels-last; seed 0, AMD EPYC 2 cores, 2026-12-01; README, other measurements)
         "cpu": dict(model="unet", crop_size=96, epochs=45, widths=(16, 32, 64, 128, 256), lr=2e-3, sigma=1.5,
                     max_seconds=900, tta_flip=True),
         "full": dict(model="unet", crop_size=224, epochs=100, widths=(32, 64, 128, 256), lr=2e-3, tta_flip=True)}

# experiment -> profile -> the fields that differ from Config300W's defaults
PRESETS: dict[str, dict[str, dict]] = {
    "resnet": {"smoke": dict(_SMOKE, crop_size=64),
               "cpu": dict(crop_size=128, epochs=60, max_seconds=1100),
               "full": dict(crop_size=224, epochs=100)},
    "unet": _UNET,
    "unet-binary": {profile: dict(preset, target="binary") for profile, preset in _UNET.items()},
}


def config(command: str = "resnet", profile: str | None = None, **overrides) -> Config300W:
    """The configuration of ``command`` (``resnet``, ``unet``, ``unet-binary``) in ``profile`` (default: the
    active one), with ``overrides`` (None is a value, e.g. ``max_seconds=None``; UNSET ones are dropped)."""
    if command not in PRESETS:
        raise ValueError(f"unknown 300-W experiment {command!r}: use one of {', '.join(COMMANDS)}")
    return settings.make_config(Config300W, PRESETS[command], profile, **overrides)


# ---- data ---------------------------------------------------------------------------------------------------

@dataclass
class Data300W:
    """Training and validation crops plus where they came from."""
    train: ibug.FaceCrops
    val: ibug.FaceCrops
    source: str                           # "300-W", "generated" or "dlib XML" (files given by the caller)
    train_xml: Path
    val_xml: Path

    def fingerprint(self) -> dict:
        """What the data is, for the run folder and the checkpoint: source, label files and face counts."""
        name = (lambda p: str(p)) if self.source == "dlib XML" else (lambda p: p.name)
        return {"source": self.source, "train": name(self.train_xml), "val": name(self.val_xml),
                "n_train": len(self.train), "n_val": len(self.val)}


def generated_xmls() -> tuple[Path, Path]:
    """The generated stand-in for 300-W (train.xml, test.xml) under ``runs/``: written once, then reused."""
    from cs180utils.machinery.keypoints import synthetic  # noqa: PLC0415
    folder = _config.runs_dir(GENERATED)
    paths = folder / "train.xml", folder / "test.xml"
    with distributed.rank0_first():   # under torchrun: rank 0 writes them, the others read its files
        return paths if all(p.exists() for p in paths) else synthetic.write_300w_folder(folder)


def load_data(cfg: Config300W, data_dir=None, train_xml=None, val_xml=None) -> Data300W:
    """Crops (``cfg.crop_size``, ``cfg.margin``) of the faces of ``train_xml`` and ``val_xml`` (dlib XML); each
    left out is the 300-W train / test file of the data directory, or the generated faces without it."""
    source = "dlib XML"
    if train_xml is None or val_xml is None:
        found = sources.labels_path("train", data_dir=data_dir)
        if found is None:
            source, defaults = "generated", generated_xmls()
        else:
            source, defaults = "300-W", (found, sources.labels_path("test", data_dir=data_dir))
        train_xml, val_xml = train_xml or defaults[0], val_xml or defaults[1]
    train_faces = ibug.read_dlib_xml(train_xml)[: cfg.max_train]
    val_faces = ibug.read_dlib_xml(val_xml)[: cfg.max_val]
    return Data300W(train=ibug.FaceCrops.from_faces(train_faces, cfg.crop_size, cfg.margin),
                    val=ibug.FaceCrops.from_faces(val_faces, cfg.crop_size, cfg.margin),
                    source=source, train_xml=Path(train_xml), val_xml=Path(val_xml))


def run_dir(cfg: Config300W, data: Data300W) -> Path:
    """``runs/300w/<name>-<hash>``: the run folder of these settings and data (:func:`training.run_dir`), the
    one the command line uses by default, so notebooks and the CLI find each other's finished models."""
    return training.run_dir(PART, cfg.name, cfg, data.fingerprint())


def make_augment(cfg: Config300W):
    """The torchvision-v2 augmentation of notebook 06 with this experiment's ranges."""
    from cs180utils.keypoints.augment import AugmentConfig, KeypointAugment  # noqa: PLC0415
    return KeypointAugment(AugmentConfig(brightness=cfg.brightness, rotation=cfg.rotation,
                                         shift_px=cfg.shift * cfg.crop_size, scale=tuple(cfg.scale),
                                         hflip=cfg.hflip, flip_perm=ibug.FLIP_300W if cfg.hflip > 0 else None))


# ---- models -------------------------------------------------------------------------------------------------

def mean_shape(crops: ibug.FaceCrops) -> torch.Tensor:
    """(K, 2) mean training shape in crop units (0 at the crop's left/top edge, 1 at its right/bottom edge):
    the mean-shape baseline, and the ResNet's starting prediction."""
    return (crops.keypoints / crops.size).mean(0)


def build_model(cfg: Config300W, mean_shape: torch.Tensor | None = None, num_keypoints: int = 68) -> nn.Module:
    """The network of ``cfg``: ResNet18 (B, 1, S, S) -> (B, K, 2) crop units, or U-Net -> (B, K, S, S) logits."""
    return NETWORKS[cfg.model].build(cfg, mean_shape, num_keypoints)


def step_loss(model: nn.Module, cfg: Config300W, images: torch.Tensor, kps: torch.Tensor) -> torch.Tensor:
    """Training loss of one batch, the course's step of ``cfg``'s network (:mod:`cs180utils.keypoints.steps`):
    images (B, 1, S, S), keypoints (B, K, 2) crop pixels. The ResNet: L1 in crop units; the U-Net: its heatmap
    loss against ``cfg.target`` maps of width ``cfg.sigma``."""
    if not cfg.heatmaps:
        return steps.regression_step(model, images, kps, cfg.crop_size, loss="l1")
    return steps.heatmap_step(model, images, kps, cfg.target, cfg.sigma, cfg.loss)


def mirror_back(out: torch.Tensor, regression: bool) -> torch.Tensor:
    """A network's output for a mirror image, mirrored back to the face's frame: regression (B, K, 2) crop units
    (x -> 1 - x) or heatmaps (B, K, H, W) (flipped along W, which maps pixel centre x to S - x); either way the
    left/right points swapped back (``ibug.FLIP_300W``)."""
    if regression:
        return mirror_points(out, ibug.FLIP_300W)
    return out.flip(-1)[:, list(ibug.FLIP_300W)]


# the read-outs that validation reports, by suffix of ``val_nme``: (method, soft-argmax window or "cfg")
READS = {"": ("soft-argmax", "cfg"), "_argmax": ("argmax", None), "_global": ("soft-argmax", None)}
CALIBRATION_FACES = 256   # training faces (the first ones) on which the mirror offsets are measured


def _read(out: torch.Tensor, cfg: Config300W, suffix: str = "") -> torch.Tensor:
    """A network's output as keypoints (B, K, 2) crop pixels: regression (crop units) scaled, heatmaps read out
    the way of ``READS[suffix]``."""
    if not cfg.heatmaps:
        return out * cfg.crop_size
    method, window = READS[suffix]
    return hm.read_out(out, method, cfg.loss, window=cfg.window if window == "cfg" else window)


def _outputs(model: nn.Module, images: torch.Tensor, batch_size: int, mirror: bool, regression: bool):
    """``(output, mirrored-back output or None)`` for crops (N, 1, S, S) (uint8, or float in [-0.5, 0.5]),
    batch by batch, in eval mode; the second is the output for the mirror image (:func:`mirror_back`)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        for i in range(0, images.shape[0], batch_size):
            x = images[i:i + batch_size]
            x = (ibug.to_float(x) if x.dtype == torch.uint8 else x).to(device)
            yield model(x), (mirror_back(model(x.flip(-1)), regression) if mirror else None)
    finally:
        model.train(was_training)


def _average(direct: torch.Tensor, mirrored: torch.Tensor, offsets: torch.Tensor | None) -> torch.Tensor:
    """The mirror-averaged keypoints (B, K, 2): the mean of the face's and the mirror image's reading, each less
    its mean error on the training faces (``offsets`` (2, 2): rows direct, mirror; None: no correction)."""
    if offsets is None:
        return 0.5 * (direct + mirrored)
    offsets = offsets.to(direct)
    return 0.5 * ((direct - offsets[0]) + (mirrored - offsets[1]))


@torch.no_grad()
def mirror_offsets(model: nn.Module, cfg: Config300W, crops: ibug.FaceCrops,
                   n: int = CALIBRATION_FACES) -> dict[str, list[list[float]]]:
    """The calibration of the mirror averaging, per read-out suffix of :data:`READS` (ResNets: ``""`` only): the
    mean error (x, y) in crop pixels of the network's reading of a face (row 0) and of its mirror image's,
    mirrored back (row 1), over the first ``n`` of ``crops`` (the training faces).

    On a mirror-symmetric labelling both are about 0. On the 300-W files of this workbook the mirror image's
    reading sits 0.85 px (of a 96 px crop) left of the face's own (where the annotators put their points is not
    mirror symmetric to the pixel): an uncorrected average moves every point 0.43 px off; subtracting these
    offsets before averaging keeps what the second opinion adds without it."""
    images, truth, batch = crops.images[:n], crops.keypoints[:n].float(), 64
    reads = tuple(READS) if cfg.heatmaps else ("",)
    sums = {r: torch.zeros(2, 2, dtype=torch.float64) for r in reads}
    count = 0
    for i, (out, back) in enumerate(_outputs(model, images, batch, True, not cfg.heatmaps)):
        t = truth[i * batch:i * batch + out.shape[0]].to(out.device)
        for r in reads:
            sums[r][0] += (_read(out, cfg, r) - t).sum((0, 1)).double().cpu()
            sums[r][1] += (_read(back, cfg, r) - t).sum((0, 1)).double().cpu()
        count += out.shape[0] * out.shape[1]
    return {r: (v / max(count, 1)).tolist() for r, v in sums.items()}


def _offsets(model: nn.Module, suffix: str) -> torch.Tensor | None:
    """The model's calibration for read-out ``suffix`` (set by :func:`train` and :func:`load_model`) or None."""
    table = getattr(model, "mirror_offsets", None)
    return None if not table or suffix not in table else torch.tensor(table[suffix], dtype=torch.float32)


@torch.no_grad()
def predict(model: nn.Module, cfg: Config300W, images: torch.Tensor, method: str = "soft-argmax",
            batch_size: int = 64, return_heatmaps: bool = False, tta_flip: bool | None = None):
    """Keypoints (N, K, 2) in crop pixels for crops (N, 1, S, S) (uint8 or float in [-0.5, 0.5]).

    U-Nets read out with ``method`` (``soft-argmax``, within ``cfg.window`` of the peak, or ``argmax``);
    ``return_heatmaps`` also returns the (N, K, S, S) heatmap logits of the crops themselves (on the CPU).
    ``tta_flip`` (default ``cfg.tta_flip``): the mean with the mirror image's keypoints mirrored back, both
    corrected by ``model.mirror_offsets`` (:func:`mirror_offsets`; :func:`train` and :func:`load_model` set it).
    """
    if method not in ("soft-argmax", "argmax"):
        raise ValueError(f"unknown read-out {method!r}: use 'soft-argmax' or 'argmax'")
    tta = cfg.tta_flip if tta_flip is None else tta_flip
    if not cfg.heatmaps or (method == "soft-argmax" and cfg.window is not None):
        suffix = ""                                    # the configured read-out
    else:
        suffix = "_argmax" if method == "argmax" else "_global"
    preds, maps = [], []
    for out, back in _outputs(model, images, batch_size, tta, not cfg.heatmaps):
        p = _read(out, cfg, suffix)
        if tta:
            p = _average(p, _read(back, cfg, suffix), _offsets(model, suffix))
        preds.append(p.cpu())
        if return_heatmaps and cfg.heatmaps:
            maps.append(out.cpu())
    p = torch.cat(preds)
    return (p, torch.cat(maps)) if return_heatmaps else p


def evaluate(model: nn.Module, cfg: Config300W, crops: ibug.FaceCrops, mean_shape: torch.Tensor,
             method: str = "soft-argmax") -> dict:
    """On ``crops``: ``nme`` (%, outer eye corners), ``mae_px`` and ``n_images`` in original pixels, the
    mean-shape baseline's ``baseline_nme``, and the predictions ``pred`` and ``baseline`` (N, K, 2) in
    original pixels."""
    pred = crops.to_original(predict(model, cfg, crops.images, method=method))
    truth = crops.original_keypoints()
    base = baseline(crops, mean_shape)
    out = metrics.evaluate(pred, truth, layout="300w68")
    out["baseline_nme"] = metrics.nme(base, truth, layout="300w68")
    out["pred"], out["baseline"] = pred, base
    return out


def baseline(crops: ibug.FaceCrops, mean_shape: torch.Tensor) -> np.ndarray:
    """The mean shape (K, 2) crop units placed in every crop: (N, K, 2) original pixels."""
    return crops.to_original((mean_shape * crops.size).expand(len(crops), -1, -1))


@torch.no_grad()
def validation_metrics(model: nn.Module, cfg: Config300W, crops: ibug.FaceCrops, tta_flip: bool = False) -> dict:
    """``val_nme`` and ``val_mae_px`` (the configured read-out) and, for U-Nets, ``val_nme_argmax`` and
    ``val_nme_global`` (soft-argmax over the whole map), from one pass of the network; with ``tta_flip`` each
    read is mirror-averaged (:func:`predict`) and ``val_nme_single`` is the configured read-out without it."""
    reads = tuple(READS) if cfg.heatmaps else ("",)
    parts: dict[str, list] = {r: [] for r in reads}
    if tta_flip:
        parts["_single"] = []
    for out, back in _outputs(model, crops.images, 64, tta_flip, not cfg.heatmaps):
        for r in reads:
            p = _read(out, cfg, r)
            if tta_flip:
                if not r:
                    parts["_single"].append(p.cpu())
                p = _average(p, _read(back, cfg, r), _offsets(model, r))
            parts[r].append(p.cpu())
    truth = crops.original_keypoints()
    result = {}
    for suffix, chunks in parts.items():
        pred = crops.to_original(torch.cat(chunks))
        result[f"val_nme{suffix}"] = metrics.nme(pred, truth, layout="300w68")
        if not suffix:
            result["val_mae_px"] = metrics.mae_px(pred, truth)
    return result


# ---- training -----------------------------------------------------------------------------------------------

OPTIMIZER = torch.optim.AdamW      # at cfg.lr (the schedule's peak), decoupled weight decay cfg.weight_decay
SCHEDULE = training.OneCycle()     # the learning rate's factor along the run: linear warm-up, then cosine to 0
HEATMAP_LOSSES = {"ce": "cross-entropy of each map's softmax over its pixels", "mse": "per-pixel MSE",
                  "bce": "per-pixel binary cross-entropy"}     # cfg.loss, in words (heatmaps.heatmap_loss)


def recipe(cfg: Config300W) -> dict[str, str]:
    """What a training of ``cfg`` does, in words with ``cfg``'s numbers, read from the objects :func:`train` uses
    (for a notebook to print rather than state): ``step`` (the course's step and its loss), ``optimizer``,
    ``schedule``, ``batches`` and ``augmentation`` (:func:`make_augment`'s)."""
    if not cfg.heatmaps:
        step = "keypoints.steps.regression_step: L1 on the keypoints in crop units"
    else:
        width = f", sigma {cfg.sigma:g} px" if cfg.target == "gaussian" else ""
        step = f"keypoints.steps.heatmap_step: {cfg.target} targets{width}, {HEATMAP_LOSSES[cfg.loss]}"
    until = f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}" + (f" or {cfg.max_seconds:g} s of training, whichever comes first (the "
                                      f"schedule follows the larger fraction done)" if cfg.max_seconds else "")
    aug = make_augment(cfg).cfg
    mirror = f", a mirror image {aug.hflip:.0%} of the time" if aug.hflip else ", no mirror images"
    return {
        "step": step,
        "optimizer": f"{OPTIMIZER.__name__}, learning rate {cfg.lr:g} at its peak, weight decay {cfg.weight_decay:g}",
        "schedule": f"{type(SCHEDULE).__name__}: linear warm-up from {SCHEDULE.start:g} × the learning rate over the "
                    f"first {SCHEDULE.warmup:.0%} of the run, then a cosine to 0, over {until}",
        "batches": f"{cfg.batch_size} crops of {cfg.crop_size} × {cfg.crop_size} px, reshuffled every epoch",
        "augmentation": f"rotation ±{aug.rotation:g}°, shift ±{aug.shift_px:.3g} px ({cfg.shift:.0%} of the crop), "
                        f"zoom {aug.scale[0]:g} to {aug.scale[1]:g}, brightness × (1 ± {aug.brightness:g})"
                        f"{mirror}",
    }


@dataclass
class TrainResult:
    model: nn.Module                       # the trained network (eval mode), on cfg.device
    cfg: Config300W
    result: dict                           # the JSON line (also run folder / result.json)
    history: dict                          # the loop's: "train" rows {step, loss} once per epoch, "eval" rows
                                           # {step, seconds, val_nme, ...}
    mean_shape: torch.Tensor               # (K, 2) mean training shape, crop units
    steps_per_epoch: int
    run: Path                              # the run folder (checkpoint.pt, result.json)

    def curve(self, key: str = "val_nme") -> tuple[list[float], list[float]]:
        """(epochs, values) of ``key``: ``"loss"`` (training, per epoch) or an evaluation metric."""
        rows = self.history["train"] if key == "loss" else self.history["eval"]
        rows = [r for r in rows if key in r]
        return [r["step"] / self.steps_per_epoch for r in rows], [r[key] for r in rows]


def train(cfg: Config300W, data: Data300W, out: str | Path | None = None, progress: bool = True,
          fresh: bool = False) -> TrainResult:
    """Train ``cfg`` on ``data`` in the run folder ``out`` (default :func:`run_dir`): a checkpoint after every
    epoch, resumed by the same call (``fresh``: start over); a finished run is loaded, not trained again."""
    run = Path(out) if out is not None else run_dir(cfg, data)
    device = _config.pick_device(cfg.device)
    channels = cfg.widths[0] if cfg.heatmaps else 16   # full-resolution channels (the ResNet's stem: 64 at 1/4 side)
    _config.check_fits(4.0 * cfg.batch_size * cfg.crop_size ** 2 * channels * 4,
                       f"a step of {cfg.batch_size} faces of {cfg.crop_size} x {cfg.crop_size} pixels",
                       "--batch-size, --crop-size" + (" or --widths" if cfg.heatmaps else ""), device)
    _config.seed_everything(cfg.seed)
    mean = mean_shape(data.train)
    model = build_model(cfg, mean).to(device, memory_format=training.memory_format(device))
    opt = OPTIMIZER(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # the crops are decoded once (data.train holds them in memory); on a GPU, workers augment and pin them
    loader = torch.utils.data.DataLoader(ibug.FaceDataset(data.train, make_augment(cfg)), batch_size=cfg.batch_size,
                                         shuffle=True, drop_last=len(data.train) > cfg.batch_size,
                                         **training.loader_settings(device))
    copy = dict(non_blocking=True) if device.type == "cuda" else {}
    per_epoch = len(loader)
    batches = None

    def step_fn(step: int) -> torch.Tensor:
        nonlocal batches
        if batches is None:   # from the step the loop starts (or resumes) at, reseeded per epoch
            batches = training.epoch_batches(loader, per_epoch, start_step=step, seed=cfg.seed)
        images, kps = next(batches)                         # (B, 1, S, S), (B, K, 2) crop pixels
        images, kps = distributed.shard(images, kps)        # under torchrun: this process's part of the batch
        return step_loss(net, cfg, images.to(device, **copy), kps.to(device, **copy))

    loop = training.LoopConfig(steps=cfg.epochs * per_epoch, max_seconds=cfg.max_seconds,
                               eval_every=cfg.eval_every * per_epoch, checkpoint_every=per_epoch, log_every=per_epoch)
    net = distributed.wrap(model)   # DistributedDataParallel under torchrun (gradients averaged), else the model
    res = training.train_loop(
        net, opt, step_fn, loop, schedule=SCHEDULE,
        evaluate=lambda step: validation_metrics(model, cfg, data.val), checkpoint=run / training.CHECKPOINT,
        identity={"config": settings.config_dict(cfg), "data": data.fingerprint()},
        extra={"mean_shape": mean.tolist(), "steps_per_epoch": per_epoch}, resume=not fresh, progress=progress,
        desc=f"train {cfg.name}", **training.gpu_settings(device))
    model.eval()
    final = res.final
    if cfg.tta_flip:   # calibrate the mirror on the training faces, keep it with the weights, score with it
        model.mirror_offsets = _calibrated(model, cfg, data, res)
        final = validation_metrics(model, cfg, data.val, tta_flip=True)
    truth = data.val.original_keypoints()
    result = {"model": cfg.name, "val_nme": final["val_nme"],
              "baseline_nme": metrics.nme(baseline(data.val, mean), truth, layout="300w68"),
              "val_mae_px": final["val_mae_px"], "n_val": len(data.val), "n_train": len(data.train),
              "data": data.source, "val_set": f"{data.val_xml.name} ({len(data.val)} faces)",
              "epochs": round(res.step / per_epoch, 2), "steps": res.step, "crop_size": cfg.crop_size,
              "stopped_at_max_seconds": res.stopped_at_max_seconds}
    if cfg.heatmaps:
        result.update(val_nme_argmax=final["val_nme_argmax"], val_nme_global=final["val_nme_global"],
                      window=cfg.window)
    if cfg.tta_flip:   # the face's own reading (the curve's last point) and the mirror's mean x error less it
        (dx, _), (mx, _) = model.mirror_offsets[""]
        result.update(val_nme_single=final["val_nme_single"], mirror_offset_px=round(mx - dx, 3))
    result.update(seconds=round(res.seconds, 1), checkpoint=str(run / training.CHECKPOINT))
    training.write_result(run, result)
    return TrainResult(model=model, cfg=cfg, result=result, history=res.history, mean_shape=mean,
                       steps_per_epoch=per_epoch, run=run)


def load_model(path: str | Path, device=None) -> tuple[nn.Module, Config300W, torch.Tensor]:
    """(model in eval mode, config, mean shape (K, 2) crop units) from a checkpoint of :func:`train` (or its
    run folder)."""
    path = Path(path)
    path = path / training.CHECKPOINT if path.is_dir() else path
    state = load_checkpoint(path)
    if not isinstance(state.get("config"), dict) or "mean_shape" not in (state.get("extra") or {}):
        raise ValueError(f"{path} is not a 300-W keypoint checkpoint (no config / mean shape); train one with "
                         f"python -m cs180utils train resnet|unet|unet-binary")
    cfg = settings.from_dict(Config300W, state["config"])
    mean = torch.tensor(state["extra"]["mean_shape"], dtype=torch.float32)
    device = _config.pick_device(device)
    model = build_model(cfg, mean).to(device, memory_format=training.memory_format(device))
    load_weights(model, state["model"], path, "pass the checkpoint.pt of the run you mean (its path is in the "
                 "training's JSON line), or train it again (--fresh)")
    model.mirror_offsets = state["extra"].get("mirror_offsets")     # None: mirror averaging uncorrected
    model.eval()
    return model, cfg, mean


def _calibrated(model: nn.Module, cfg: Config300W, data: Data300W, res: training.LoopResult) -> dict:
    """The mirror calibration of the trained ``model``: the one its checkpoint keeps when this call trained no step
    (a finished run loaded again), else :func:`mirror_offsets` on the training faces, then kept in the checkpoint's
    ``extra`` for :func:`load_model` (replacing one a resumed run carried over from before its new steps)."""
    kept = res.extra.get("mirror_offsets")
    if kept is not None and res.step == res.resumed_from:
        return kept
    offsets = mirror_offsets(model, cfg, data.train)
    if res.checkpoint is not None and res.checkpoint.is_file():
        state = load_checkpoint(res.checkpoint)
        state.setdefault("extra", {})["mirror_offsets"] = offsets
        save_checkpoint(res.checkpoint, state)
    return offsets


# ---- helpers for the notebooks ------------------------------------------------------------------------------

def box_summary(faces) -> dict:
    """How the face boxes of labelled ``faces`` relate to their points, for a notebook to print instead of
    assuming: ``n``, ``tight`` (the fraction of boxes within 2 px, or 2 % of their side, of the points' tight box),
    the median ``width_ratio`` and ``height_ratio`` (box / tight box) and ``text``, one sentence saying so."""
    boxes = np.array([f.box for f in faces], dtype=np.float64)                        # (N, 4)
    tight = np.array([ibug.tight_box(f.keypoints) for f in faces], dtype=np.float64)   # (N, 4)
    tol = np.maximum(2.0, 0.02 * tight[:, 2:].max(1, keepdims=True))
    frac = float((np.abs(boxes - tight) <= tol).all(1).mean())
    wr, hr = (float(np.median(boxes[:, i] / np.maximum(tight[:, i], 1e-9))) for i in (2, 3))
    what = ("the tight box of the points" if frac > 0.9 else
            f"{wr:.2f} x the points' width and {hr:.2f} x their height (median): not the tight box")
    return {"n": len(faces), "tight": frac, "width_ratio": wr, "height_ratio": hr,
            "text": f"{len(faces)} face boxes; {frac:.0%} lie within 2 px (or 2 %) of the tight box of their "
                    f"points; the boxes are {what}"}


# the settings without an option of `train <name>`: what the command decides (model, target), the shared --seed and
# --device, and the settings of the other kind of network (a regression network has no heatmaps; only the ResNet
# has ImageNet weights)
NOT_OPTIONS = ("model", "target", "seed", "device")
ONLY_FOR = {"regression": ("pretrained",), "heatmaps": ("sigma", "loss", "window", "widths")}


def options_of(name: str) -> tuple[str, ...]:
    """The Config300W fields that ``train name`` (resnet, unet, unet-binary) has an option for."""
    kind = "heatmaps" if config(name, "smoke").heatmaps else "regression"
    other = [f for k, fields in ONLY_FOR.items() if k != kind for f in fields]
    return tuple(f.name for f in dataclasses.fields(Config300W) if f.name not in (*NOT_OPTIONS, *other))


def command_line(cfg: Config300W, data: "Data300W | None" = None, profile: str | None = None,
                 data_dir=None) -> str:
    """The ``python -m cs180utils train ...`` command that trains ``cfg`` (on ``data``'s files when they were
    given as dlib XML; from ``data_dir`` if given) into the same run folder as a notebook: the profile, then an
    option for every setting that differs from the profile's preset (the options are the config's fields,
    :func:`cs180utils.machinery.settings.add_options`). Raises ValueError for a setting the command has no option for."""
    profile = _config.get_profile(profile)
    diff = settings.differences(settings.config_dict(config(cfg.name, profile)), settings.config_dict(cfg),
                                ignore=("device",))
    words = ["python -m cs180utils train", cfg.name, "--profile", profile]
    options = options_of(cfg.name)
    for name, (_, value) in diff.items():
        if name not in options:
            raise ValueError(f"setting {name}={value!r} has no option in `train {cfg.name}`; train it from Python "
                             f"(experiment_300w.train) or leave it at the preset")
        words += settings.option_words(name, getattr(cfg, name))
    if data_dir is not None:
        words += ["--data-dir", str(data_dir)]
    if data is not None and data.source == "dlib XML":
        words += ["--train-xml", str(data.train_xml), "--val-xml", str(data.val_xml)]
    return " ".join(words)


def predict_faces(model: nn.Module, cfg: Config300W, faces, method: str = "soft-argmax") -> np.ndarray:
    """Keypoints (N, K, 2) in original-image pixels of ``faces`` (:class:`ibug.Face` list, e.g. the part-less
    boxes of :func:`ibug.read_dlib_boxes`), each cropped by its box as in training."""
    crops = ibug.FaceCrops.from_faces(faces, cfg.crop_size, cfg.margin)
    return crops.to_original(predict(model, cfg, crops.images, method=method))


def write_submission(path: str | Path, pred: np.ndarray) -> Path:
    """The CSV of the course's 300-W Kaggle competition for predictions (N, K, 2) in original-image pixels:
    ``Id,Predicted`` with one row per coordinate, ``Id = face * 2K + 2 * keypoint + (0 for x, 1 for y)`` from 0,
    faces in the order of their XML file (image by image, box by box)."""
    pred = np.asarray(pred, dtype=np.float64)
    if pred.ndim != 3 or pred.shape[-1] != 2:
        raise ValueError(f"predictions must be (N, K, 2) pixels; got {pred.shape}")
    if not np.isfinite(pred).all():
        raise ValueError(f"{int((~np.isfinite(pred)).sum())} predicted coordinates are NaN or infinite; the "
                         f"model has diverged or a face crop is empty: retrain it (--fresh) before submitting")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = pred.reshape(-1)
    lines = ["Id,Predicted"] + [f"{i},{v:.2f}" for i, v in enumerate(flat)]
    tmp = path.with_name(f".{path.name}.tmp")   # a failed write (no space) leaves an earlier CSV as it was
    try:
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path

