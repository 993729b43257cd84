"""The NeRF experiment (notebooks 03, 04, 10 and ``python -m cs180utils train|eval|render nerf``): its settings,
their presets per profile for both models, and build / train / evaluate / load.

    cfg = config("vanilla", "cpu", steps=500)        # the profile's preset, then the overrides
    result = train(cfg, scene)                        # {"val_psnr", "seconds", "seconds_to_23db", ...}
    model, cfg, state = load_trained(result["checkpoint"])

Training draws rays across all training images (:func:`ray_batch_loss`) and takes the course's step on them
(:func:`cs180utils.nerf.steps.nerf_step`: render, MSE to the pixels) in the workbook's one loop
(:func:`cs180utils.machinery.training.train_loop`): Adam, the learning rate decaying exponentially from ``lr`` to
``lr_final``, validation PSNR every ``eval_every`` steps on ``val_views`` images and at the end on all of them,
a snapshot of validation view 0 at each validation, checkpoints and resume. A run lives in
``runs/nerf/<model>_<scene>-<hash of the settings and the training data>/`` (:func:`run_dir`, the same folder for
the notebooks and the command line), with ``checkpoint.pt`` and ``result.json``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from cs180utils.machinery import config as _config
from cs180utils.machinery import distributed, settings, training
from cs180utils.machinery.checkpoint import load_checkpoint, load_weights
from cs180utils.images import psnr, to_uint8
from cs180utils.nerf import rays as R
from cs180utils.nerf import steps
from cs180utils.nerf.fast import FastFieldConfig
from cs180utils.nerf.fast import build_field as build_fast_field
from cs180utils.nerf.fields import Field, NerfField
from cs180utils.nerf.model import NeRF, RenderSettings
from cs180utils.nerf.scene import MIN_TRAIN_VIEWS, Scene

MODELS = ("vanilla", "fast")
MAX_IMAGE_SIZE = 4096   # pixels, the longer side: the course's scenes are 200 (lego) to 800 (its original renders);
                        # 100 lego views at 4096 x 4096 already take 20 GB as float32


@dataclass
class NerfConfig:
    """A NeRF training's settings (the sampling range along rays, near ... far, is the scene's: Scene.near/far)."""
    model: Literal[MODELS] = "vanilla"  # "vanilla" (the course's MLP, fields.py) or "fast" (grids + occupancy, fast.py)
    steps: int = 2000                 # optimizer steps
    batch_size: int = 10_000          # rays per step, drawn at random across all training images
    n_samples: int = 64               # samples per ray (stratified, jittered in training; coarse ones if hierarchical)
    render_samples: int | None = None # samples per ray when rendering images (validation, video, depth), which
                                      # costs no training time; None: n_samples. Training's jittered samples
                                      # learn the continuous integral, so finer fixed steps render it better
    lr: float = 5e-4                  # Adam learning rate at step 0
    lr_final: float | None = None     # learning rate at the end (exponential decay from lr); None: constant
    sample_in_aabb: bool = False      # sample only inside the object's box, carved from the silhouettes
    hierarchical: bool = False        # coarse-to-fine sampling with a second (fine) field
    n_fine: int = 64                  # extra samples per ray from the coarse weights when hierarchical
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)  # colour behind the scene (lego: black)
    width: int = 256                  # vanilla MLP width
    depth: int = 8                    # vanilla MLP depth (trunk layers; PE(x) enters again after half of them)
    L_pos: int = 10                   # PE frequencies of positions (vanilla)
    L_dir: int = 4                    # PE frequencies of view directions (vanilla)
    fast: FastFieldConfig | None = None  # the fast field's options (model "fast" only)
    image_size: int | None = None     # train and validate with the longer side at this many pixels (None: as is)
    eval_every: int = 100             # validate every this many steps (and always at the end; 0: only then)
    val_views: int | None = None      # periodic validation on the first N val images (None: all); the final one: all
    log_every: int = 25               # mean training loss and PSNR into the history every this many steps
    checkpoint_every: int = 250       # save every this many steps (and at each validation and the end; 0: only
                                      # then)
    max_seconds: float | None = None  # stop once training time (validation excluded) passes this; the decay then
                                      # follows the larger of steps and time used. None: no cap
    chunk: int = 4096                 # rays rendered at once for whole images (memory bound)
    seed: int = 0                     # seeds the network's initialisation and the ray draws
    device: str | None = None         # None: the best available

    def __post_init__(self):
        settings.check(self, positive=("steps", "batch_size", "n_samples", "render_samples", "lr", "lr_final",
                                       "n_fine", "width", "depth", "image_size", "val_views", "log_every",
                                       "max_seconds", "chunk"),
                       nonnegative=("L_pos", "L_dir", "eval_every", "checkpoint_every", "seed"),
                       fraction=("background",))
        if self.image_size is not None and self.image_size > MAX_IMAGE_SIZE:
            raise settings.SettingError("image_size", f"must be at most {MAX_IMAGE_SIZE} pixels (the images' longer "
                                                      f"side; None: the scene's own), got {self.image_size!r}")
        if self.model == "fast" and self.fast is None:
            self.fast = FastFieldConfig()
        self.background = tuple(self.background)


# The fast field's grids hold optical thickness per nominal sample step (sigma x step_size), not sigma: values of a
# few make a surface opaque, so Adam's steps of ~lr reach it in tens of steps, not hundreds (DVGO's choice). The
# bias starts each step at opacity 0.004. benchmarks/nerf.py --ablate density_step (lego, seed 0, 300 steps):
# validation PSNR +1.6 dB at step 100, +2.4 dB at step 300. FastFieldConfig's own default stays "world", the unit
# of checkpoints saved before.
_DENSITY_PER_STEP = dict(density_unit="step", density_bias=-5.5)

# Per model, one table: per profile and per named preset, the settings that differ from NerfConfig's defaults
# (which are the course's recipe).
PRESETS: dict[str, dict[str, dict]] = {
    # smoke: seconds on 2 cores; cpu: a laptop (the course's MLP shrunk to 8x128, samples only inside the
    # object's box, 1024 rays, Adam 1e-3; about 14 min here); full: the course's recipe (GPU).
    "vanilla": {
        # "course", laid over a profile's (``config(..., preset="course")``, ``--preset course``, CS180_PRESET):
        # the write-up's recipe: the 8 x 256 MLP with the skip, PE L = 10 (x) and 4 (d), 32 jittered samples (from
        # the scene's near 2 to far 6) on the full 200 x 200 images, 10 000 rays a step, Adam at a constant 5e-4.
        # How long it trains (steps, max_seconds) and how often it validates stay the profile's.
        "course": dict(batch_size=10_000, n_samples=32, lr=5e-4, lr_final=None, sample_in_aabb=False,
                       hierarchical=False, background=(0.0, 0.0, 0.0), width=256, depth=8, L_pos=10, L_dir=4,
                       image_size=None),
        "smoke": dict(steps=100, batch_size=512, n_samples=24, width=64, depth=4, lr=5e-4, sample_in_aabb=True,
                      image_size=50, eval_every=30, val_views=2, log_every=10, checkpoint_every=30, chunk=4096),
        "cpu": dict(steps=2600, batch_size=1024, n_samples=48, width=128, depth=8, lr=1e-3, lr_final=2e-4,
                    sample_in_aabb=True, eval_every=250, val_views=3, log_every=50, checkpoint_every=200,
                    max_seconds=870, chunk=4096),
        "full": dict(steps=2000, batch_size=10_000, n_samples=64, width=256, depth=8, lr=5e-4, lr_final=5e-5,
                     sample_in_aabb=False, eval_every=100, log_every=25, checkpoint_every=250, chunk=8192),
    },
    # The fast field (notebook 10). cpu: a 300 s budget (steps is only the schedule's nominal length: the time cap
    # ends the run); validation on 3 views every 10 steps up to step 200 times the first 23 dB. Measured on lego
    # (idle 2 cores, seed 0) with the density per sample step (_DENSITY_PER_STEP), val PSNR at 300 s / first
    # 23 dB: lr 1e-2 31.38 dB / 23.3 s (every 25 steps); 2e-2 31.33 dB / 19.5 s (the preset); 4e-2 30.66 dB /
    # 19.4 s; 2e-2 with lr_final 2e-3 31.32 dB; 2e-2 with grid_lr_scale 5 31.58 dB, but stuck at 16.5 dB for the
    # first 90 steps (13 s), so the grids stay at 10x. Before the density unit (sigma per world unit), lr_final at
    # lr 1e-2: 1e-3 29.90, 2e-4 28.59, 3e-3 30.29, 5e-3 30.75 dB. Measured and left off (FastFieldConfig): a batch
    # ramp 1024 -> 4096 rays over 500 steps (old unit: 29.67 dB at 300 s, 23 dB at 29.4 s with it, 28.6 s and
    # 35.5 s in two runs without; new unit: 21.56 dB at 13.6 s with it, 21.46 dB at 14.1 s without), early ray
    # termination and alpha skipping (benchmarks/nerf.py --ablate: dearer per step early on with the old unit;
    # with the new unit and lr 2e-2, 400 steps in 58.7 s instead of 60.6 s and 27.73 dB instead of 27.94 dB).
    # render_samples 128 (training keeps 64): on another 2-core machine (AMD EPYC, about 2.1x the steps of the
    # Xeon above in 300 s) one run's weights through `eval nerf --render-samples 64 / 96 / 128 / 192`: 31.99 /
    # 32.18 / 32.22 / 32.22 dB (rendering 10 views 2.4 / 3.0 / 3.7 / 5.1 s). Training at 128 samples instead: 32.26
    # dB, but 1.44x the time a step and 23 dB after 9.6 s instead of 7.1 s; at 96: 32.04 dB, 8.5 s.
    "fast": {
        "smoke": dict(steps=60, batch_size=1024, n_samples=32, lr=1e-2, lr_final=2e-3, sample_in_aabb=True,
                      image_size=50, eval_every=30, val_views=2, log_every=10, checkpoint_every=30, chunk=8192,
                      fast=FastFieldConfig(density_levels=2, density_base=16, density_finest=32, n_levels=2,
                                           features_per_level=2, base_resolution=8, finest_resolution=16,
                                           occupancy_resolution=32, occupancy_warmup=20, occupancy_every=8,
                                           **_DENSITY_PER_STEP)),
        "cpu": dict(steps=5000, batch_size=4096, n_samples=64, render_samples=128, lr=2e-2, lr_final=5e-3,
                    sample_in_aabb=True, eval_every=100, val_views=3, log_every=25, checkpoint_every=250,
                    max_seconds=300, chunk=16384,
                    fast=FastFieldConfig(early_eval_every=10, early_eval_until=200, **_DENSITY_PER_STEP)),
        "full": dict(steps=5000, batch_size=16384, n_samples=128, lr=1e-2, lr_final=5e-4, sample_in_aabb=True,
                     eval_every=250, log_every=50, checkpoint_every=500, chunk=65536,
                     fast=FastFieldConfig(density_levels=4, density_finest=320, n_levels=6, features_per_level=2,
                                          finest_resolution=512, log2_hashmap_size=19, hidden=64, dir_freqs=4,
                                          **_DENSITY_PER_STEP)),
    },
}


# The settings that say how long and how often, not what is trained: left out when a profile is compared with
# the course's recipe.
RUN_SETTINGS = ("steps", "max_seconds", "eval_every", "val_views", "log_every", "checkpoint_every", "chunk", "seed",
                "device")

# Why each profile's vanilla preset departs from the course's recipe, per setting (notebook 03 prints the ones
# that differ; a test checks that every difference has its reason here).
WHY_NOT_COURSE: dict[str, dict[str, str]] = {
    "full": {
        "n_samples": "64 coarse samples per ray, as the NeRF paper (Mildenhall et al. 2020): finer steps along "
                     "the ray, affordable on a GPU",
        "lr_final": "the NeRF paper's exponential decay of the learning rate, 5e-4 to 5e-5 over the run",
    },
    "cpu": {
        "batch_size": "1 024 rays a step: with 48 samples through 8 x 128, about 1/24 of the multiply-adds of a "
                      "course step (10 000 rays x 32 samples through 8 x 256), so that a CPU trains in minutes",
        "width": "an 8 x 128 MLP: about a quarter of the course MLP's weights, so of its multiply-adds per sample",
        "sample_in_aabb": "samples only inside the object's box (carved from the silhouettes): none wasted on "
                          "empty space",
        "n_samples": "48 samples inside the box: closer together than the course's 32 from near 2 to far 6",
        "lr": "a higher start for the smaller network and the short run",
        "lr_final": "decays over the short run (ends at 2e-4)",
    },
    "smoke": {
        "batch_size": "512 rays a step: CI seconds",
        "width": "a 4 x 64 MLP: CI seconds",
        "depth": "a 4 x 64 MLP: CI seconds",
        "image_size": "50 x 50 images: CI seconds",
        "sample_in_aabb": "samples only inside the object's box, none wasted on empty space",
        "n_samples": "24 samples inside the box: CI seconds",
    },
}


def config(model: str = "vanilla", profile: str | None = None, preset: str | None = None,
           **overrides) -> NerfConfig:
    """The settings of ``model`` for ``profile`` (default: the active one): NerfConfig's defaults, then the
    profile's preset, then the named ``preset`` (``"course"``; default: ``$CS180_PRESET`` where this model has
    it, else none; both from :data:`PRESETS`), then ``overrides`` (:func:`cs180utils.machinery.settings.make_config`:
    ``None`` is a value, e.g. ``max_seconds=None`` removes the time cap; UNSET keeps the preset's). ``fast`` may
    be a :class:`FastFieldConfig` or a dict of its fields to change in the preset's."""
    if model not in PRESETS:
        raise ValueError(f"unknown NeRF model {model!r}: choose one of {', '.join(MODELS)}")
    fast = overrides.pop("fast", settings.UNSET)
    cfg = settings.make_config(NerfConfig, PRESETS[model], profile, preset, model=model, **overrides)
    if isinstance(fast, dict):
        cfg.fast = settings.replace(cfg.fast or FastFieldConfig(), **fast)
    elif fast is not settings.UNSET:
        cfg.fast = fast
    elif cfg.fast is not None:
        cfg.fast = dataclasses.replace(cfg.fast)  # a copy: changing it leaves the preset as it is
    return cfg


def course_deviations(cfg: NerfConfig, profile: str | None = None) -> list[tuple]:
    """Where ``cfg`` departs from the course's recipe (the run-length settings left out), with the reasons of
    ``profile`` (default: the active one): rows ``(setting, course, cfg, why)``
    (:func:`cs180utils.machinery.settings.deviations`)."""
    course = config(cfg.model, profile, preset="course")
    return settings.deviations(course, cfg, WHY_NOT_COURSE.get(_config.get_profile(profile), {}),
                               ignore=RUN_SETTINGS)


def gpu_settings(cfg: NerfConfig, device: torch.device) -> dict:
    """The training loop's GPU settings (:func:`cs180utils.machinery.training.gpu_settings`): the vanilla MLP's matrix
    products in mixed precision on CUDA; the fast field stays float32 (its hash-grid interpolation and tiny MLP
    gain little and lose precision). Nothing on a CPU."""
    out = training.gpu_settings(device)
    return out if cfg.model == "vanilla" else {**out, "precision": None}


# ---- scene, run folder ------------------------------------------------------------------------------------

def prepare_scene(cfg: NerfConfig, scene: Scene) -> Scene:
    """The scene at the config's image size (what training and validation see)."""
    return scene.resized(cfg.image_size) if cfg.image_size else scene


def scene_fingerprint(scene: Scene) -> dict:
    """What a run was trained on: the scene's name, training image shape, sampling range (``near``, ``far``:
    :func:`load_trained` reads it back) and a hash of the training images, cameras and focal (a checkpoint
    refuses to resume on other data)."""
    h = hashlib.sha1()
    for t in (scene.images, scene.c2ws):
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    h.update(repr(float(scene.focal)).encode())
    return {"scene": scene.name, "images": list(scene.images.shape), "near": float(scene.near),
            "far": float(scene.far), "sha1": h.hexdigest()[:12]}


def run_dir(cfg: NerfConfig, scene: Scene) -> Path:
    """``runs/nerf/<model>_<scene>-<hash>``: the one folder of this training for the notebooks and the CLI
    (:func:`cs180utils.machinery.training.run_dir`; the hash covers the settings and :func:`scene_fingerprint`)."""
    return training.run_dir("nerf", f"{cfg.model}_{scene.name}", cfg, scene_fingerprint(prepare_scene(cfg, scene)))


# ---- build --------------------------------------------------------------------------------------------------

def build_field(cfg: NerfConfig, scene: Scene | None = None) -> Field:
    """The field ``cfg.model`` names (the fast one uses the scene's silhouettes and box)."""
    if cfg.model == "fast":
        return build_fast_field(cfg.fast, cfg.n_samples, scene)
    return NerfField(width=cfg.width, depth=cfg.depth, skip=cfg.depth // 2, L_pos=cfg.L_pos, L_dir=cfg.L_dir)


def build_model(cfg: NerfConfig, scene: Scene | None = None, aabb: torch.Tensor | None = None,
                near_far: tuple[float, float] | None = None) -> NeRF:
    """Field (+ fine field when hierarchical) and the model's :class:`RenderSettings`, made here and nowhere else:
    the sampling range is the scene's (``scene.near``, ``scene.far``; without a scene, ``near_far``: a loaded
    checkpoint's), the samples per ray, the box (``aabb``, default the scene's, when ``sample_in_aabb``) and the
    background are the config's."""
    if near_far is None:
        if scene is None:
            raise ValueError("build_model needs the scene (or near_far, its sampling range)")
        near_far = (scene.near, scene.far)
    if cfg.sample_in_aabb and aabb is None:
        if scene is None:
            raise ValueError("sample_in_aabb needs the scene (or its aabb) to build the model")
        aabb = scene.aabb()
    near, far = near_far
    render = RenderSettings(near=float(near), far=float(far), n_samples=cfg.n_samples,
                            render_samples=cfg.render_samples, n_fine=cfg.n_fine if cfg.hierarchical else 0,
                            aabb=aabb if cfg.sample_in_aabb else None, background=tuple(cfg.background))
    field = build_field(cfg, scene)
    fine = build_field(cfg, scene) if cfg.hierarchical else None
    return NeRF(field, render, fine)


# ---- train / evaluate -------------------------------------------------------------------------------------

def rays_per_step(cfg: NerfConfig, step: int) -> int:
    """Rays drawn at ``step``: ``batch_size``, or with the fast model's batch ramp (``fast.batch_start``,
    ``fast.batch_ramp_steps``) a linear growth from ``batch_start`` at step 0 to ``batch_size`` at the ramp's end
    (cheap early steps while the coarse grids learn the shape; more rays once detail is being fitted)."""
    f = cfg.fast
    if f is None or not f.batch_start or f.batch_ramp_steps <= 0 or step >= f.batch_ramp_steps:
        return int(cfg.batch_size)
    return int(round(f.batch_start + (cfg.batch_size - f.batch_start) * step / f.batch_ramp_steps))


def eval_steps(cfg: NerfConfig) -> tuple[int, ...]:
    """Extra validation steps besides every ``eval_every``: the fast model's early cadence
    (``fast.early_eval_every`` up to ``fast.early_eval_until``), which times the first 23 dB finely."""
    f = cfg.fast
    if f is None or f.early_eval_every <= 0:
        return ()
    return tuple(range(f.early_eval_every, min(f.early_eval_until, cfg.steps) + 1, f.early_eval_every))


def ray_batch_loss(model: NeRF, images: torch.Tensor, c2ws: torch.Tensor, focal: float, n_rays: int,
                   generator: torch.Generator, jitter: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
    """The training loop's step: ``n_rays`` rays drawn uniformly over all pixels of ``images`` (B, H, W, 3) seen
    by ``c2ws`` (B, 4, 4), then the course's step :func:`cs180utils.nerf.steps.nerf_step` (render with jittered
    samples, MSE to the pixels' colours). Returns ``(loss, {"psnr"})``.

    Under torchrun every process draws the same ``n_rays`` and keeps its part of them
    (:func:`cs180utils.machinery.distributed.shard`); the samples' jitter then comes from ``jitter``, a generator
    of the process's own (``generator`` draws it otherwise), so that ``generator`` stays the same in all of them."""
    rays_o, rays_d, target = R.random_rays(images, c2ws, focal, n_rays, generator)  # (R, 3) each
    rays_o, rays_d, target = distributed.shard(rays_o, rays_d, target)             # (R / N, 3) under torchrun
    return steps.nerf_step(model, rays_o, rays_d, target, generator if jitter is None else jitter)


@torch.no_grad()
def evaluate(model: NeRF, scene: Scene, views: int | None = None, chunk: int = 4096, keep: int = 0) -> dict:
    """Mean PSNR over the first ``views`` validation images (all by default): ``{"psnr", "per_view": [dB],
    "renders": the first ``keep`` renders ({"rgb" (H, W, 3), "depth", "acc"})}``."""
    n = len(scene.images_val) if views is None else min(views, len(scene.images_val))
    scores, renders = [], []
    for i in range(n):
        out = model.render_image(scene.c2ws_val[i], scene.focal, scene.H, scene.W, chunk)
        scores.append(psnr(out["rgb"], scene.images_val[i]))
        if i < keep:
            renders.append(out)
    return {"psnr": sum(scores) / len(scores), "per_view": scores, "renders": renders}


def train(cfg: NerfConfig, scene: Scene, out_dir: str | os.PathLike | None = None, resume: bool = True,
          progress: bool = True, after_eval=None) -> dict:
    """Train (or resume, or just load a finished) NeRF on ``scene`` at ``cfg.image_size``.

    ``out_dir`` (default :func:`run_dir`) holds ``checkpoint.pt`` and ``result.json``; running again with the
    same folder resumes (a finished run returns at once; other settings or another scene are refused, naming
    the difference). ``after_eval(step, {"psnr", "views", "snapshot"})`` runs after each validation; returning
    True stops the training there.

    Returns ``val_psnr`` (mean over all validation images at the end), ``seconds`` (training time, validation
    and checkpoints excluded), ``seconds_to_23db`` (training seconds at the first validation at 23 dB or more,
    else None; ``steps_to_23db`` and ``views_at_23db``: its step and how many validation views it averaged),
    ``steps``, ``seconds_per_step``, ``stopped_at_max_seconds``, ``checkpoint`` and ``history``:
    ``train`` rows ``{"step", "loss", "psnr"}`` (means over ``log_every`` steps) and ``eval`` rows
    ``{"step", "seconds", "psnr", "views", "snapshot"}`` (snapshot: uint8 (H, W, 3) render of validation view 0).
    """
    if len(scene.images) < MIN_TRAIN_VIEWS:   # a Scene made in memory (load_scene refuses such a file)
        raise ValueError(f"scene {scene.name!r} has {len(scene.images)} training image(s); a NeRF needs at least "
                         f"{MIN_TRAIN_VIEWS} (views from different cameras): add views or pass another scene")
    scene_t = prepare_scene(cfg, scene)
    data = scene_fingerprint(scene_t)
    if out_dir is None:  # run_dir(cfg, scene), without preparing and hashing the scene twice
        out_dir = training.run_dir("nerf", f"{cfg.model}_{scene.name}", cfg, data)
    out_dir = Path(out_dir)
    device = _config.pick_device(cfg.device)
    samples = cfg.n_samples + (cfg.n_samples + cfg.n_fine if cfg.hierarchical else 0)
    width, depth = (cfg.width, cfg.depth) if cfg.model == "vanilla" else (max(cfg.fast.hidden, 16), 2)
    _config.check_fits(4.0 * cfg.batch_size * samples * max(width, 16) * (depth + 2),
                       f"a step of {cfg.batch_size} rays x {samples} samples through {depth} x {width}",
                       "--batch-size, --samples (--fine) or --width" if cfg.model == "vanilla"
                       else "--batch-size or --samples", device)
    _config.seed_everything(cfg.seed)
    aabb = scene_t.aabb() if cfg.sample_in_aabb else None
    model = build_model(cfg, scene_t, aabb).to(device)
    optimizer = torch.optim.Adam(model.param_groups(cfg.lr), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)  # the ray draws and the sample jitter (on the CPU: any device)
    images, c2ws = scene_t.images.to(device), scene_t.c2ws.to(device)

    def validate(views: int | None) -> dict:
        res = evaluate(model, scene_t, views, cfg.chunk, keep=1)
        return {"psnr": res["psnr"], "views": len(res["per_view"]),
                "snapshot": to_uint8(res["renders"][0]["rgb"])}

    partial = cfg.val_views is not None and cfg.val_views < len(scene_t.images_val)
    net = distributed.wrap(model)   # DistributedDataParallel under torchrun (gradients averaged), else the model
    jitter = None if distributed.world_size() == 1 else \
        torch.Generator().manual_seed(cfg.seed + 1000 * distributed.rank())   # each process's own sample jitter
    res = training.train_loop(
        net, optimizer,
        lambda step: ray_batch_loss(net, images, c2ws, scene_t.focal, rays_per_step(cfg, step), gen, jitter),
        training.LoopConfig(steps=cfg.steps, max_seconds=cfg.max_seconds, eval_every=cfg.eval_every,
                            checkpoint_every=cfg.checkpoint_every, log_every=cfg.log_every,
                            eval_at=eval_steps(cfg)),
        schedule=training.Exponential(cfg.lr_final / cfg.lr) if cfg.lr_final else training.constant,
        evaluate=lambda step: validate(cfg.val_views),
        final_evaluate=(lambda step: validate(None)) if partial else None,
        checkpoint=out_dir / training.CHECKPOINT, identity={"config": settings.config_dict(cfg), "data": data},
        rngs={"rays": gen}, before_step=model.on_train_step, after_eval=after_eval, resume=resume,
        progress=progress, desc=f"nerf {cfg.model}", **gpu_settings(cfg, device),
        extra={"aabb": None if aabb is None else aabb.tolist(), "scene": scene_t.name, "focal": scene_t.focal,
               "size": [scene_t.H, scene_t.W]})
    at23 = next((e for e in res.history["eval"] if e["psnr"] >= 23.0), None)
    result = {"model": cfg.model, "scene": scene_t.name, "val_psnr": round(res.final["psnr"], 3),
              "seconds": round(res.seconds, 1),
              "seconds_to_23db": None if at23 is None else round(at23["seconds"], 1),
              "steps_to_23db": None if at23 is None else at23["step"],
              "views_at_23db": None if at23 is None else at23["views"],
              "steps": res.step, "seconds_per_step": round(res.seconds / max(res.step, 1), 4),
              "stopped_at_max_seconds": res.stopped_at_max_seconds, "checkpoint": str(res.checkpoint)}
    training.write_result(out_dir, result)
    return {**result, "history": res.history}


def load_trained(checkpoint: str | os.PathLike, device: str | None = None,
                 **overrides) -> tuple[NeRF, NerfConfig, dict]:
    """A trained model from its checkpoint, ready to render: ``(model, cfg, state)``. ``overrides`` change the
    saved config before the model is built (how it renders, e.g. ``render_samples``, ``chunk``; UNSET ones are
    left as saved); the sampling range is the training scene's, as saved with the checkpoint."""
    state = load_checkpoint(checkpoint, map_location="cpu")
    saved = state.get("config")
    if "model" not in state or not isinstance(saved, dict) or saved.get("model") not in MODELS \
            or "n_samples" not in saved:
        raise ValueError(f"{checkpoint} is not a NeRF checkpoint; pass the checkpoint.pt that "
                         f"`python -m cs180utils train nerf` wrote (its path is in the JSON line)")
    cfg = settings.from_dict(NerfConfig, saved)
    if overrides:
        cfg = settings.replace(cfg, **overrides)
    aabb = (state.get("extra") or {}).get("aabb")
    data = (state.get("identity") or {}).get("data") or {}
    # the training scene's range; a checkpoint from before the scene owned it kept it in its config
    near_far = (data.get("near", saved.get("near", Scene.near)), data.get("far", saved.get("far", Scene.far)))
    model = build_model(cfg, scene=None, aabb=None if aabb is None else torch.tensor(aabb), near_far=near_far)
    load_weights(model, state["model"], checkpoint, "pass the checkpoint.pt of the run you mean (its path is in "
                 "the training's JSON line), or train it again (train nerf --fresh)")
    return model.to(_config.pick_device(device)).eval(), cfg, state
