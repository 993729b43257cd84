"""Train a NeRF on a scene: rays drawn across all training images, Adam, periodic validation PSNR,
snapshots of one fixed view, checkpoints and resume. Used by notebook 03 and ``python -m cs180utils train nerf``.

    cfg = config_for("vanilla", "cpu", steps=500)
    result = train_nerf(cfg, scene, out_dir)   # {"val_psnr", "seconds", "seconds_to_23db", "checkpoint", ...}
    model, cfg = load_trained(result["checkpoint"])
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from cs180utils import config as cfg_mod
from cs180utils.checkpoint import load_checkpoint, save_checkpoint
from cs180utils.nerf import rays as R
from cs180utils.nerf.fields import NerfField
from cs180utils.nerf.model import NeRF, RenderSettings, psnr
from cs180utils.nerf.scene import Scene

CHECKPOINT_NAME = "nerf.pt"


@dataclass
class NerfConfig:
    model: str = "vanilla"           # "vanilla" (the course's MLP) or "fast" (cs180utils.nerf.fast)
    steps: int = 2000                # optimizer steps
    rays_per_step: int = 10_000      # rays drawn at random across all training images per step
    n_samples: int = 64              # samples per ray (stratified, jittered during training)
    lr: float = 5e-4                 # Adam learning rate at step 0
    lr_final: float | None = None    # learning rate at the last step (exponential decay); None = constant
    near: float = 2.0                # sampling range along rays (lego: cameras at radius 4)
    far: float = 6.0
    sample_in_aabb: bool = False     # sample only inside the object's box estimated from the silhouettes
    hierarchical: bool = False       # coarse-to-fine sampling with a second (fine) field
    n_fine: int = 64                 # extra samples per ray from the coarse weights when hierarchical
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)  # colour behind the scene (lego: black)
    width: int = 256                 # vanilla MLP width
    depth: int = 8                   # vanilla MLP depth (trunk layers)
    L_pos: int = 10                  # PE frequencies of positions
    L_dir: int = 4                   # PE frequencies of view directions
    image_size: int | None = None    # train/validate at this many pixels square (None = the scene's own)
    val_every: int = 100             # validate every this many steps (and at the end)
    val_views: int | None = None     # periodic validation on the first N val images (None = all); final uses all
    log_every: int = 25              # train-PSNR log interval (steps)
    checkpoint_every: int = 250      # save a checkpoint every this many steps (and at each validation and the end)
    max_seconds: float | None = None  # stop early once training time (validation excluded) passes this
    chunk: int = 4096                # rays per chunk when rendering whole images
    seed: int = 0                    # seeds the network init and the ray draws
    device: str | None = None        # None = best available
    extra: dict = dataclasses.field(default_factory=dict)  # options of other fields (fast)

    def render_settings(self, aabb: torch.Tensor | None = None) -> RenderSettings:
        return RenderSettings(near=self.near, far=self.far, n_samples=self.n_samples,
                              n_fine=self.n_fine if self.hierarchical else 0,
                              aabb=aabb if self.sample_in_aabb else None, background=tuple(self.background))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# Vanilla profiles. smoke: seconds on 2 cores; cpu: a laptop (a course-figure MLP shrunk to 8x128, samples
# only inside the object's box, 1024 rays, Adam 1e-3, about 14 min here); full: the course's recipe (GPU).
PRESETS: dict[str, dict] = {
    "smoke": dict(steps=100, rays_per_step=512, n_samples=24, width=64, depth=4, lr=5e-4, sample_in_aabb=True,
                  image_size=50, val_every=30, val_views=2, log_every=10, checkpoint_every=30, chunk=4096),
    "cpu": dict(steps=2600, rays_per_step=1024, n_samples=48, width=128, depth=8, lr=1e-3, lr_final=2e-4,
                sample_in_aabb=True, val_every=250, val_views=3, log_every=50, checkpoint_every=200, max_seconds=870,
                chunk=4096),
    "full": dict(steps=2000, rays_per_step=10_000, n_samples=64, width=256, depth=8, lr=5e-4, lr_final=5e-5,
                 sample_in_aabb=False, val_every=100, log_every=25, checkpoint_every=250, chunk=8192),
}


def config_for(model: str = "vanilla", profile: str | None = None, **overrides) -> NerfConfig:
    """The config of ``model`` for ``profile`` (smoke / cpu / full), with ``overrides`` (NerfConfig fields).

    Every override is taken as given, ``None`` included: ``max_seconds=None`` removes the profile's time cap and
    ``val_views=None`` validates on all images. (The command line drops the options it was not given.)
    """
    profile = cfg_mod.get_profile(profile)
    if model == "vanilla":
        base = dict(PRESETS[profile])
    elif model == "fast":
        from cs180utils.nerf import fast  # noqa: PLC0415  (the fast field is optional)
        base = dict(fast.PRESETS[profile])
    else:
        raise ValueError(f"unknown NeRF model {model!r}: choose 'vanilla' or 'fast'")
    base.update(overrides)
    names = {f.name for f in dataclasses.fields(NerfConfig)}
    unknown = sorted(set(base) - names)
    if unknown:
        raise ValueError(f"unknown NerfConfig fields {unknown}; known: {sorted(names)}")
    base["model"] = model
    return NerfConfig(**base)


def build_field(cfg: NerfConfig, scene: Scene | None = None) -> torch.nn.Module:
    """The field ``cfg.model`` names (the fast one may use the scene, e.g. its silhouettes)."""
    if cfg.model == "fast":
        from cs180utils.nerf import fast  # noqa: PLC0415
        return fast.build_field(cfg, scene)
    if cfg.model != "vanilla":
        raise ValueError(f"unknown NeRF model {cfg.model!r}: choose 'vanilla' or 'fast'")
    return NerfField(width=cfg.width, depth=cfg.depth, skip=cfg.depth // 2, L_pos=cfg.L_pos, L_dir=cfg.L_dir)


def build_model(cfg: NerfConfig, scene: Scene | None = None, aabb: torch.Tensor | None = None) -> NeRF:
    """Field (+ fine field when hierarchical) and render settings; ``aabb`` defaults to the scene's box."""
    if cfg.sample_in_aabb and aabb is None:
        if scene is None:
            raise ValueError("sample_in_aabb needs the scene (or its aabb) to build the model")
        aabb = scene.aabb()
    field = build_field(cfg, scene)
    fine = build_field(cfg, scene) if cfg.hierarchical else None
    return NeRF(field, cfg.render_settings(aabb), fine)


def default_run_dir(model: str, profile: str, scene_name: str) -> Path:
    """``runs/nerf_{model}_{profile}_{scene}``: shared by the CLI and the notebooks, so a training done by one
    is reused (or resumed) by the other."""
    return cfg_mod.runs_dir(f"nerf_{model}_{profile}_{scene_name}")


def prepare_scene(cfg: NerfConfig, scene: Scene) -> Scene:
    """The scene at the config's image size."""
    return scene.resized(cfg.image_size) if cfg.image_size and cfg.image_size != scene.W else scene


@torch.no_grad()
def evaluate(model: NeRF, scene: Scene, views: int | None = None, chunk: int = 4096,
             keep: int = 0) -> dict:
    """Mean PSNR over the first ``views`` validation images (all by default); ``keep`` renders returned."""
    n = len(scene.images_val) if views is None else min(views, len(scene.images_val))
    scores, renders = [], []
    for i in range(n):
        out = model.render_image(scene.c2ws_val[i], scene.focal, scene.H, scene.W, chunk)
        scores.append(psnr(out["rgb"], scene.images_val[i]))
        if i < keep:
            renders.append(out)
    return {"psnr": sum(scores) / len(scores), "per_view": scores, "renders": renders}


def _lr_factor(cfg: NerfConfig, step: int, seconds: float) -> float:
    """Exponential decay from ``lr`` to ``lr_final`` over the run; with ``max_seconds`` the run's progress is
    the larger of steps done and time used, so a time-capped run still ends at ``lr_final``."""
    if not cfg.lr_final:
        return 1.0
    progress = step / max(cfg.steps, 1)
    if cfg.max_seconds:
        progress = max(progress, seconds / cfg.max_seconds)
    return (cfg.lr_final / cfg.lr) ** min(progress, 1.0)


def _u8(img: torch.Tensor) -> torch.Tensor:
    return (img.clamp(0, 1) * 255 + 0.5).to(torch.uint8)


def train_nerf(cfg: NerfConfig, scene: Scene, out_dir: str | os.PathLike | None = None, resume: bool = True,
               progress: bool = True, callback=None) -> dict:
    """Train (or resume) a NeRF; returns the result dict:

    ``val_psnr`` (mean over all validation images at the end), ``seconds`` (training wall time, validation
    and checkpoint writing excluded), ``seconds_to_23db`` (training seconds at the first periodic validation
    with PSNR >= 23, else None), ``steps``, ``checkpoint`` (path), ``history`` (train: [(step, psnr)],
    val: [(step, seconds, psnr)], snapshots: [(step, uint8 (H, W, 3) render of val view 0)]).

    ``out_dir`` (default ``runs/nerf``) holds ``nerf.pt``; running again with the same ``out_dir`` resumes
    from it (a finished run returns at once). ``callback(step, model, history)`` runs after each validation.
    """
    out_dir = Path(out_dir) if out_dir is not None else cfg_mod.runs_dir("nerf")
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / CHECKPOINT_NAME
    device = cfg_mod.pick_device(cfg.device)
    scene = prepare_scene(cfg, scene)
    cfg_mod.seed_everything(cfg.seed)
    aabb = scene.aabb() if cfg.sample_in_aabb else None
    model = build_model(cfg, scene, aabb).to(device)
    groups = model.param_groups(cfg.lr)
    for g in groups:
        g.setdefault("initial_lr", g.get("lr", cfg.lr))
    opt = torch.optim.Adam(groups, lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    history: dict = {"train": [], "val": [], "snapshots": []}
    step, seconds = 0, 0.0

    if resume and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path, map_location=device)
        saved = state.get("config", {})
        keys = ("model", "width", "depth", "L_pos", "L_dir", "hierarchical", "n_samples", "image_size", "sample_in_aabb")
        differ = {k: (saved.get(k), getattr(cfg, k)) for k in keys if saved.get(k) != getattr(cfg, k)}
        if differ:
            raise ValueError(f"{ckpt_path} was trained with a different configuration {differ} (saved, now); "
                             f"use another --out folder, or delete it to start over")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        step, seconds, history = state["step"], state["seconds"], state["history"]
        print(f"resuming from {ckpt_path} at step {step}", file=sys.stderr)

    images = scene.images.to(device)
    c2ws = scene.c2ws.to(device)

    def save():
        save_checkpoint(ckpt_path, {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                                    "seconds": seconds, "history": history, "config": cfg.to_dict(),
                                    "generator": gen.get_state(), "aabb": aabb, "scene": scene.name,
                                    "focal": scene.focal, "size": (scene.H, scene.W)})

    def validate(views):
        res = evaluate(model, scene, views, cfg.chunk, keep=1)
        history["val"].append((step, seconds, res["psnr"]))
        history["snapshots"].append((step, _u8(res["renders"][0]["rgb"])))
        if callback is not None:
            callback(step, model, history)
        return res["psnr"]

    bar = tqdm(total=cfg.steps, initial=step, desc=f"nerf {cfg.model}", disable=not progress, file=sys.stderr)
    window = []
    stopped_early = False
    model.train()
    while step < cfg.steps:
        if cfg.max_seconds is not None and seconds >= cfg.max_seconds:
            stopped_early = True
            break
        t0 = time.perf_counter()
        rays_o, rays_d, target = R.random_rays(images, c2ws, scene.focal, cfg.rays_per_step, gen)
        out = model.render_rays(rays_o, rays_d, perturb=True, generator=gen)
        loss = torch.mean((out["rgb"] - target) ** 2)
        if "coarse_rgb" in out:
            loss = loss + torch.mean((out["coarse_rgb"] - target) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        model.on_train_step(step)
        factor = _lr_factor(cfg, step, seconds)
        for g in opt.param_groups:
            g["lr"] = g["initial_lr"] * factor
        opt.step()
        step += 1
        seconds += time.perf_counter() - t0
        window.append(psnr(out["rgb"].detach(), target))
        bar.update(1)
        if step % cfg.log_every == 0:
            history["train"].append((step, sum(window) / len(window)))
            bar.set_postfix(train_psnr=f"{history['train'][-1][1]:.2f}")
            window = []
        if step % cfg.val_every == 0 and step < cfg.steps:
            p = validate(cfg.val_views)
            bar.set_postfix(val_psnr=f"{p:.2f}")
            save()
        elif step % cfg.checkpoint_every == 0:
            save()
    bar.close()
    if history.get("final_step") != step:  # the final score is always over all validation images (once)
        validate(None)
        history["final_step"] = step
        save()
    final = history["val"][-1][2]
    to23 = next((s for _, s, p in history["val"] if p >= 23.0), None)
    result = {"model": cfg.model, "scene": scene.name, "val_psnr": round(final, 3), "seconds": round(seconds, 1),
              "seconds_to_23db": None if to23 is None else round(to23, 1), "steps": step,
              "seconds_per_step": round(seconds / max(step, 1), 4), "stopped_at_max_seconds": stopped_early,
              "checkpoint": str(ckpt_path), "history": history}
    (out_dir / "result.json").write_text(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=1))
    return result


def load_trained(checkpoint: str | os.PathLike, device: str | None = None) -> tuple[NeRF, NerfConfig, dict]:
    """A trained model from its checkpoint, ready to render: ``(model, cfg, state)``."""
    state = load_checkpoint(checkpoint, map_location="cpu")
    if "model" not in state or "config" not in state:
        raise ValueError(f"{checkpoint} is not a NeRF checkpoint (no model/config); pass the nerf.pt that "
                         f"`python -m cs180utils train nerf` wrote")
    cfg = NerfConfig(**{k: v for k, v in state["config"].items() if k in {f.name for f in dataclasses.fields(NerfConfig)}})
    dev = cfg_mod.pick_device(device)
    model = build_model(cfg, scene=None, aabb=state.get("aabb"))
    model.load_state_dict(state["model"])
    return model.to(dev).eval(), cfg, state
