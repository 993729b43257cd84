"""68-point keypoints on iBUG 300-W: ResNet18 regression and U-Net heatmaps (notebooks 07-09), headless.

    python -m cs180utils train resnet        [--epochs N --size S --pretrained ...]
    python -m cs180utils train unet          [--sigma 2 ...]       Gaussian heatmaps
    python -m cs180utils train unet-binary                          binary-mask heatmaps, same network
    python -m cs180utils eval keypoints --checkpoint runs/train_resnet/checkpoint.pt --labels faces.xml

Training uses ``labels_ibug_300W_train.xml`` and validates on ``labels_ibug_300W_test.xml`` (the 100 test
faces), both from the 300-W folder of the data directory; without it, generated faces written as dlib XML
(with a notice). Every number is in original-image pixels: predictions on the crop are mapped back.
A checkpoint is written after every epoch to ``--out`` (default ``runs/train_<model>``); running the same
command again resumes from it.

The same functions serve the notebooks: :func:`load_data`, :func:`train`, :func:`predict`, :func:`evaluate`.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
from tqdm.auto import tqdm

from cs180utils import config
from cs180utils.checkpoint import load_checkpoint, save_checkpoint
from cs180utils.keypoints import heatmaps as hm
from cs180utils.keypoints import ibug, metrics
from cs180utils.keypoints.resnet import KeypointResNet
from cs180utils.keypoints.unet import UNet


@dataclass
class TrainConfig:
    """One 300-W experiment. Defaults are the ``cpu`` profile's; :func:`default_config` picks by profile."""
    model: str = "resnet"                 # "resnet" (regression) or "unet" (heatmaps)
    target: str = "gaussian"              # unet only: "gaussian" or "binary" heatmaps
    size: int = 128                       # crop side in pixels (the course uses 224)
    margin: float = 0.2                   # crop = face box grown by this fraction of its side on each side
    epochs: int = 60                      # passes over the training faces
    batch_size: int = 32                  # faces per step
    lr: float = 1e-3                      # Adam peak learning rate (one-cycle schedule)
    weight_decay: float = 1e-4            # AdamW decoupled weight decay
    sigma: float = 2.0                    # Gaussian heatmap std in output pixels
    loss: str = "ce"                      # unet: "ce" (spatial softmax), "mse" or "bce"; resnet uses L1
    window: int | None = 4                # unet soft-argmax: average within this many pixels of each peak
                                          # (None: over the whole map)
    widths: tuple[int, ...] = (16, 32, 64, 128)  # unet channels per level, finest first
    pretrained: bool = False              # resnet: ImageNet weights when downloadable
    rotation: float = 15.0                # augmentation: degrees
    shift: float = 0.06                   # augmentation: shift as a fraction of the crop side
    scale: tuple[float, float] = (0.9, 1.1)  # augmentation: zoom range
    brightness: float = 0.3               # augmentation: brightness factor range 1 +- this
    max_train: int | None = None          # use only the first N training faces (smoke)
    max_val: int | None = None            # use only the first N validation faces (smoke)
    eval_every: int = 1                   # validate every N epochs (and always at the end)
    time_budget: float | None = None      # seconds: the LR schedule runs on max(step, time) progress and
                                          # training stops when the budget is spent (None: epochs decide)

    @property
    def name(self) -> str:
        return "resnet" if self.model == "resnet" else f"unet-{self.target}"


def default_config(command: str = "resnet", profile: str | None = None, **overrides) -> TrainConfig:
    """The profile's configuration for ``resnet``, ``unet`` or ``unet-binary``; keyword overrides win.

    Overrides are taken as given, ``None`` included (``time_budget=None``: the epochs decide; ``window=None``:
    soft-argmax over the whole map). The command line drops the options it was not given.
    """
    p = config.get_profile(profile)
    if command == "resnet":
        cfg = TrainConfig(model="resnet",
                          size=config.by_profile(p, smoke=64, cpu=128, full=224),
                          epochs=config.by_profile(p, smoke=2, cpu=60, full=100),
                          lr=1e-3)
    elif command in ("unet", "unet-binary"):
        cfg = TrainConfig(model="unet", target="binary" if command == "unet-binary" else "gaussian",
                          size=config.by_profile(p, smoke=64, cpu=96, full=224),
                          epochs=config.by_profile(p, smoke=2, cpu=40, full=100),
                          widths=config.by_profile(p, smoke=(8, 16, 32), cpu=(16, 32, 64, 128),
                                                   full=(32, 64, 128, 256)),
                          lr=2e-3)
    else:
        raise ValueError(f"unknown 300-W command {command!r}: use resnet, unet or unet-binary")
    cfg.batch_size = config.by_profile(p, smoke=16, cpu=32, full=32)
    # cpu: stop at a time budget (the LR schedule follows time), so a laptop run ends when promised:
    # resnet within the 1200 s, the U-Nets (Gaussian and binary alike) within 1500 s
    cfg.time_budget = config.by_profile(p, smoke=None, cpu=1100 if command == "resnet" else 900, full=None)
    cfg.max_train = config.by_profile(p, smoke=64, cpu=None)
    cfg.max_val = config.by_profile(p, smoke=32, cpu=None)
    return dataclasses.replace(cfg, **overrides)


# ---- data ---------------------------------------------------------------------------------------------------

@dataclass
class Data300W:
    """Training and validation crops plus where they came from."""
    train: ibug.FaceCrops
    val: ibug.FaceCrops
    source: str                           # "300-W" or "generated"
    train_xml: Path
    val_xml: Path


def generated_xmls(folder: Path | None = None, n_train: int = 160, n_val: int = 40, size: int = 256,
                   seed: int = 0) -> tuple[Path, Path]:
    """Generated 68-point faces (:mod:`cs180utils.keypoints.synthetic`) written as images + dlib XML files,
    so the offline default goes through the same reader as the real data. Written once, then reused."""
    from cs180utils.keypoints import synthetic  # noqa: PLC0415
    folder = Path(folder) if folder else config.runs_dir("generated_300w")
    paths = folder / "train.xml", folder / "test.xml"
    if all(p.exists() for p in paths):
        return paths
    for path, n, s in ((paths[0], n_train, seed), (paths[1], n_val, seed + 1)):
        faces = synthetic.make_faces(n, layout="300w68", size=size, seed=s)
        records = []
        img_dir = folder / path.stem
        img_dir.mkdir(parents=True, exist_ok=True)
        for i, (img, kps) in enumerate(zip(faces.images, faces.keypoints)):
            f = img_dir / f"face_{i:04d}.png"
            from PIL import Image  # noqa: PLC0415
            Image.fromarray(np.asarray(img)).save(f)
            kps = np.asarray(kps, dtype=np.float32)
            records.append(ibug.Face(image=f, box=ibug.tight_box(kps), keypoints=kps))
        ibug.write_dlib_xml(path, records, name=f"generated 68-point faces ({path.stem})")
    return paths


def load_data(cfg: TrainConfig, data_dir=None, train_xml=None, val_xml=None) -> Data300W:
    """Crops of the 300-W train and test faces (or generated faces when the data is absent)."""
    source = "300-W"
    if train_xml is None or val_xml is None:
        tr = ibug.labels_path("train", data_dir=data_dir)
        if tr is None:
            source = "generated"
            train_xml, val_xml = generated_xmls()
        else:
            train_xml, val_xml = tr, ibug.labels_path("test", data_dir=data_dir)
    train_faces = ibug.read_dlib_xml(train_xml)[: cfg.max_train]
    val_faces = ibug.read_dlib_xml(val_xml)[: cfg.max_val]
    return Data300W(train=ibug.FaceCrops.from_faces(train_faces, cfg.size, cfg.margin),
                    val=ibug.FaceCrops.from_faces(val_faces, cfg.size, cfg.margin),
                    source=source, train_xml=Path(train_xml), val_xml=Path(val_xml))


def make_augment(cfg: TrainConfig):
    """The torchvision-v2 augmentation of notebook 06 with this experiment's ranges."""
    from cs180utils.keypoints.augment import AugmentConfig, KeypointAugment  # noqa: PLC0415
    return KeypointAugment(AugmentConfig(brightness=cfg.brightness, rotation=cfg.rotation,
                                         shift_px=cfg.shift * cfg.size, scale=tuple(cfg.scale)))


# ---- models -------------------------------------------------------------------------------------------------

def mean_shape_units(crops: ibug.FaceCrops) -> torch.Tensor:
    """(K, 2) mean training shape in crop units ([0, 1] across the crop): the mean-shape baseline."""
    return ((crops.keypoints + 0.5) / crops.size).mean(0)


def build_model(cfg: TrainConfig, mean_shape: torch.Tensor | None = None, num_keypoints: int = 68) -> nn.Module:
    if cfg.model == "resnet":
        return KeypointResNet(num_keypoints, 1, mean_shape=mean_shape, pretrained=cfg.pretrained)
    if cfg.model == "unet":
        return UNet(1, num_keypoints, widths=cfg.widths)
    raise ValueError(f"unknown model {cfg.model!r}: use resnet or unet")


def units_to_px(u: torch.Tensor, size: int) -> torch.Tensor:
    """Crop units [0, 1] -> crop pixel indices."""
    return u * size - 0.5


def px_to_units(p: torch.Tensor, size: int) -> torch.Tensor:
    return (p + 0.5) / size


def step_loss(model: nn.Module, cfg: TrainConfig, images: torch.Tensor, kps: torch.Tensor) -> torch.Tensor:
    """Training loss of one batch: images (B, 1, S, S), keypoints (B, K, 2) crop pixels."""
    out = model(images)
    if cfg.model == "resnet":
        return (out - px_to_units(kps, cfg.size)).abs().mean()         # L1 in crop units
    target = hm.factored_targets(kps, out.shape[-2:], cfg.target, cfg.sigma)  # (B, K, H), (B, K, W) on the device
    return hm.heatmap_loss(out, target, cfg.loss)


@torch.no_grad()
def predict(model: nn.Module, cfg: TrainConfig, images: torch.Tensor, batch_size: int = 64,
            method: str = "soft-argmax", device=None, return_heatmaps: bool = False):
    """Keypoints (N, K, 2) in crop pixels for crops (N, 1, S, S) (uint8 or float in [-0.5, 0.5]).

    U-Nets read out with ``method`` (soft-argmax or argmax); ``return_heatmaps`` also returns the (N, K, S, S)
    heatmap logits (on the CPU).
    """
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    preds, maps = [], []
    for i in range(0, images.shape[0], batch_size):
        x = images[i:i + batch_size]
        x = ibug.to_float(x) if x.dtype == torch.uint8 else x
        out = model(x.to(device))
        if cfg.model == "resnet":
            preds.append(units_to_px(out, cfg.size).cpu())
        else:
            preds.append(hm.read_out(out, method, cfg.loss, window=cfg.window).cpu())
            if return_heatmaps:
                maps.append(out.cpu())
    model.train(was_training)
    p = torch.cat(preds)
    return (p, torch.cat(maps)) if return_heatmaps else p


def evaluate(model: nn.Module, cfg: TrainConfig, crops: ibug.FaceCrops, mean_shape: torch.Tensor,
             method: str = "soft-argmax") -> dict:
    """NME (%, outer eye corners), pixel MAE in original pixels, and the mean-shape baseline on ``crops``."""
    pred = crops.to_original(predict(model, cfg, crops.images, method=method))
    truth = crops.original_keypoints()
    base_crop = units_to_px(mean_shape, crops.size).expand(len(crops), -1, -1)
    base = crops.to_original(base_crop)
    out = metrics.evaluate(pred, truth, layout="300w68")
    out["baseline_nme"] = metrics.nme(base, truth, layout="300w68")
    out["pred"] = pred
    return out


# ---- training -----------------------------------------------------------------------------------------------

@dataclass
class TrainResult:
    model: nn.Module
    cfg: TrainConfig
    history: dict                          # epoch, train_loss, val_nme lists
    result: dict                           # the JSON line
    mean_shape: torch.Tensor


def one_cycle_lr(progress: float, peak: float, warmup: float = 0.1) -> float:
    """Learning rate at ``progress`` in [0, 1]: linear warm-up to ``peak`` over ``warmup``, then cosine to 0."""
    if progress < warmup:
        return peak * (0.05 + 0.95 * progress / warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / (1 - warmup))))


def _config_dict(cfg: TrainConfig) -> dict:
    d = dataclasses.asdict(cfg)
    d["widths"], d["scale"] = list(cfg.widths), list(cfg.scale)
    return d


def config_from_dict(d: dict) -> TrainConfig:
    d = dict(d)
    d["widths"], d["scale"] = tuple(d["widths"]), tuple(d["scale"])
    return TrainConfig(**d)


def train(cfg: TrainConfig, data: Data300W, out: str | Path | None = None, seed: int = 0, device=None,
          progress: bool = True, log: Callable[[str], None] | None = None) -> TrainResult:
    """Train ``cfg`` on ``data``; checkpoint each epoch to ``out/checkpoint.pt`` and resume from it.

    Returns the model (best = last epoch), the history and the result dict (val_nme, baseline_nme, ...).
    """
    log = log or (lambda s: print(s, file=sys.stderr))
    device = config.pick_device(device)
    gen = config.seed_everything(seed)
    mean = mean_shape_units(data.train)
    model = build_model(cfg, mean).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(data.train) / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    loader = torch.utils.data.DataLoader(ibug.FaceDataset(data.train, make_augment(cfg)),
                                         batch_size=cfg.batch_size, shuffle=True, generator=gen,
                                         drop_last=len(data.train) > cfg.batch_size)
    history = {"epoch": [], "train_loss": [], "val_nme": [], "seconds": []}
    start_epoch, seconds = 0, 0.0
    ckpt_path = Path(out) / "checkpoint.pt" if out else None
    if ckpt_path is not None and ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        if state.get("config") != _config_dict(cfg) or state.get("source") != data.source:
            raise ValueError(f"{ckpt_path} was written by a different configuration or data "
                             f"({state.get('config')}, {state.get('source')}); use another --out or delete it")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history, start_epoch, seconds = state["history"], state["epoch"], state["seconds"]
        torch.set_rng_state(state["rng"])
        gen.set_state(state["loader_rng"])
        log(f"resuming {ckpt_path} at epoch {start_epoch}/{cfg.epochs}")
    finished = False
    if ckpt_path is not None and ckpt_path.exists():
        finished = bool(state.get("finished"))
    val = None
    step = start_epoch * steps_per_epoch
    bar = tqdm(total=cfg.epochs, initial=start_epoch, desc=f"train {cfg.name}", disable=not progress, file=sys.stderr)
    epoch = start_epoch
    while not finished and epoch < cfg.epochs:
        t0 = time.perf_counter()
        model.train()
        total, n = 0.0, 0
        for images, kps in loader:
            progress_ = step / total_steps
            if cfg.time_budget:
                progress_ = max(progress_, (seconds + time.perf_counter() - t0) / cfg.time_budget)
            if progress_ >= 1.0:
                finished = True
                break
            for group in opt.param_groups:
                group["lr"] = one_cycle_lr(progress_, cfg.lr)
            images, kps = images.to(device), kps.to(device)
            loss = step_loss(model, cfg, images, kps)       # (,) on a batch (B, 1, S, S), (B, K, 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            total += loss.item() * len(images)
            n += len(images)
        epoch += 1
        finished = finished or epoch == cfg.epochs or (
            cfg.time_budget is not None and seconds + time.perf_counter() - t0 >= cfg.time_budget)
        val = evaluate(model, cfg, data.val, mean) if finished or epoch % cfg.eval_every == 0 else None
        seconds += time.perf_counter() - t0
        history["epoch"].append(epoch)
        history["train_loss"].append(total / max(n, 1))
        history["val_nme"].append(val["nme"] if val else None)
        history["seconds"].append(seconds)
        bar.update(1)
        bar.set_postfix(loss=f"{total / max(n, 1):.4f}", val_nme=f"{val['nme']:.2f}" if val else "-")
        if ckpt_path is not None:
            save_checkpoint(ckpt_path, {
                "model": model.state_dict(), "optimizer": opt.state_dict(),
                "epoch": epoch, "seconds": seconds, "history": history, "config": _config_dict(cfg),
                "source": data.source, "mean_shape": mean, "rng": torch.get_rng_state(),
                "loader_rng": gen.get_state(), "finished": finished})
    bar.close()
    final = val or evaluate(model, cfg, data.val, mean)
    result = {"model": cfg.name, "val_nme": final["nme"], "baseline_nme": final["baseline_nme"],
              "val_mae_px": final["mae_px"], "n_val": final["n_images"], "n_train": len(data.train),
              "data": data.source, "val_set": f"{data.val_xml.name} ({final['n_images']} faces)",
              "epochs": history["epoch"][-1] if history["epoch"] else 0, "size": cfg.size, "seconds": round(seconds, 1)}
    if cfg.model == "unet":
        result["val_nme_argmax"] = evaluate(model, cfg, data.val, mean, method="argmax")["nme"]
        result["val_nme_global"] = evaluate(model, dataclasses.replace(cfg, window=None), data.val, mean)["nme"]
        result["window"] = cfg.window
    if ckpt_path is not None:
        result["checkpoint"] = str(ckpt_path)
    return TrainResult(model=model, cfg=cfg, history=history, result=result, mean_shape=mean)


def run_dir(cfg: TrainConfig, data: Data300W, seed: int = 0, prefix: str = "300w") -> Path:
    """``runs/<prefix>/<model>_<digest>``: one folder per configuration and data source, so a notebook re-run
    with the same settings finds its finished model (and resumes an interrupted one), a changed setting trains
    a new one instead of clashing with the old checkpoint, and two notebooks that ask for the same model (08's
    Gaussian U-Net and 09's) share it."""
    key = json.dumps({"config": _config_dict(cfg), "data": data.source, "seed": seed}, sort_keys=True)
    return config.runs_dir(prefix) / f"{cfg.name}_{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def load_model(path: str | Path, device=None) -> tuple[nn.Module, TrainConfig, torch.Tensor]:
    """(model, config, mean shape in crop units) from a checkpoint written by :func:`train`."""
    state = load_checkpoint(path)
    if "config" not in state or "mean_shape" not in state:
        raise ValueError(f"{path} is not a 300-W keypoint checkpoint (no config / mean_shape); "
                         f"train one with python -m cs180utils train resnet|unet|unet-binary")
    cfg = config_from_dict(state["config"])
    model = build_model(cfg, state["mean_shape"]).to(config.pick_device(device))
    model.load_state_dict(state["model"])
    model.eval()
    return model, cfg, state["mean_shape"]


# ---- command line -------------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    if command == "eval keypoints":
        parser.add_argument("--checkpoint", required=True, help="checkpoint.pt written by train resnet|unet")
        parser.add_argument("--labels", default=None,
                            help="dlib XML of faces to score (images relative to it); default: the 300-W test XML")
        parser.add_argument("--method", default="soft-argmax", choices=("soft-argmax", "argmax"),
                            help="heatmap read-out for U-Nets")
        return
    parser.add_argument("--epochs", type=int, default=None, help="passes over the training faces")
    parser.add_argument("--size", type=int, default=None, help="crop side in pixels")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate")
    parser.add_argument("--margin", type=float, default=None, help="crop margin, fraction of the face box")
    parser.add_argument("--time-budget", type=float, default=None,
                        help="seconds: stop when spent, the LR schedule following time (results then depend on speed)")
    parser.add_argument("--train-xml", default=None, help="training faces (dlib XML); default: 300-W train")
    parser.add_argument("--val-xml", default=None, help="validation faces (dlib XML); default: 300-W test")
    if command == "train resnet":
        parser.add_argument("--pretrained", action="store_true", help="start from ImageNet weights if downloadable")
    else:
        parser.add_argument("--sigma", type=float, default=None, help="Gaussian heatmap sigma (pixels)")
        parser.add_argument("--loss", choices=("ce", "mse", "bce"), default=None, help="heatmap loss")
        parser.add_argument("--widths", default=None, help="U-Net widths, e.g. 16,32,64,128")
        parser.add_argument("--window", type=int, default=None,
                            help="soft-argmax radius around each peak in pixels (default 4; -1: the whole map)")


def config_from_args(args: argparse.Namespace, target: str) -> TrainConfig:
    """The TrainConfig of ``train resnet|unet|unet-binary``: the profile's defaults with the options given."""
    overrides = {k: getattr(args, k, None) for k in ("epochs", "size", "batch_size", "lr", "margin", "sigma", "loss",
                                                     "time_budget")}
    if getattr(args, "widths", None):
        overrides["widths"] = tuple(int(w) for w in args.widths.split(","))
    if getattr(args, "pretrained", False):
        overrides["pretrained"] = True
    overrides = {k: v for k, v in overrides.items() if v is not None}  # options not given keep the profile's
    if getattr(args, "window", None) is not None:
        overrides["window"] = None if args.window < 0 else args.window  # -1: the whole map
    return default_config(target, args.profile, **overrides)


def run(args: argparse.Namespace, command: str) -> dict:
    if command == "eval keypoints":
        return run_eval(args)
    target = command.split()[1]
    cfg = config_from_args(args, target)
    data = load_data(cfg, args.data_dir, args.train_xml, args.val_xml)
    out = Path(args.out) if args.out else config.runs_dir(f"train_{target}")
    res = train(cfg, data, out=out, seed=args.seed, device=args.device)
    (out / "history.json").write_text(json.dumps(res.history))
    return res.result


def run_eval(args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    model, cfg, mean = load_model(args.checkpoint, args.device)
    labels = args.labels
    if labels is None:
        labels = ibug.labels_path("test", data_dir=args.data_dir)
        if labels is None:
            raise FileNotFoundError("no --labels given and the 300-W test XML is not in the data directory; "
                                    "pass --labels FILE.xml (dlib imglab format, images relative to it)")
    faces = ibug.read_dlib_xml(labels)
    crops = ibug.FaceCrops.from_faces(faces, cfg.size, cfg.margin)
    r = evaluate(model, cfg, crops, mean, method=args.method)
    return {"nme": r["nme"], "mae_px": r["mae_px"], "n_images": r["n_images"], "baseline_nme": r["baseline_nme"],
            "labels": str(labels), "checkpoint": str(args.checkpoint), "seconds": round(time.perf_counter() - t0, 1)}


# ---- helpers for the notebooks ------------------------------------------------------------------------------

def predict_image(model: nn.Module, cfg: TrainConfig, image, box) -> np.ndarray:
    """Keypoints (K, 2) in pixels of ``image`` (PIL or array) for the face in ``box`` (left, top, width, height),
    a 300-W style box (e.g. from :func:`cs180utils.keypoints.detect.face_box`)."""
    crop, _, tf = ibug.crop_face(image, box, cfg.size, cfg.margin)
    pred = predict(model, cfg, torch.from_numpy(crop)[None, None])[0]        # (K, 2) crop pixels
    return tf.to_original(pred.numpy().astype(np.float64))


def write_submission(path: str | Path, pred: np.ndarray) -> Path:
    """A Kaggle-style CSV of predictions (N, K, 2) in original-image pixels: ``Id,Predicted`` with one row per
    coordinate, ``Id = image * 2K + 2 * keypoint + (0 for x, 1 for y)``, images in label-file order."""
    pred = np.asarray(pred, dtype=np.float64)
    if pred.ndim != 3 or pred.shape[-1] != 2:
        raise ValueError(f"predictions must be (N, K, 2) pixels; got {pred.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = pred.reshape(-1)
    lines = ["Id,Predicted"] + [f"{i},{v:.2f}" for i, v in enumerate(flat)]
    path.write_text("\n".join(lines) + "\n")
    return path
