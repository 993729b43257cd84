"""``python -m cs180utils train|eval|render nerf``: training, validation PSNR and videos, headless.

    python -m cs180utils train nerf [--scene NPZ] [--model vanilla|fast] [--steps N] [--hierarchical]
    python -m cs180utils eval nerf --checkpoint CKPT [--scene NPZ]
    python -m cs180utils render nerf --checkpoint CKPT [--scene NPZ] [--size 800] [--frames N] --out DIR
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

from cs180utils import config


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("--scene", default=None,
                        help="scene npz in the course's format (default: lego if found, else the generated scene)")
    if command == "train nerf":
        parser.add_argument("--model", default="vanilla", choices=("vanilla", "fast"), help="which field")
        parser.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the profile's)")
        parser.add_argument("--rays", type=int, default=None, help="rays per step")
        parser.add_argument("--samples", type=int, default=None, help="samples per ray (hierarchical: coarse samples)")
        parser.add_argument("--lr", type=float, default=None, help="Adam learning rate")
        parser.add_argument("--hierarchical", action="store_true", default=None,
                            help="coarse-to-fine sampling with a second field")
        parser.add_argument("--fine", type=int, default=None,
                            help="extra samples per ray drawn from the coarse weights (with --hierarchical; "
                                 "default 64); the fine field evaluates samples + fine points per ray")
        parser.add_argument("--max-seconds", type=float, default=None, help="stop after this much training time")
        parser.add_argument("--size", type=int, default=None, help="train at this image size (pixels, square)")
        parser.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint in --out")
    else:
        parser.add_argument("--checkpoint", required=True, help="nerf.pt written by `train nerf`")
        parser.add_argument("--chunk", type=int, default=None, help="rays rendered at once (memory bound)")
    if command == "render nerf":
        parser.add_argument("--size", type=int, default=None, help="video size in pixels (default: the training size)")
        parser.add_argument("--frames", type=int, default=None, help="render only the first N test cameras")
        parser.add_argument("--fps", type=int, default=15)


def _scene(args):
    from cs180utils.nerf.scene import default_scene  # noqa: PLC0415
    return default_scene(args.scene, data_dir=args.data_dir)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def train_config(args, profile: str):
    """The NerfConfig of ``train nerf``: the profile's preset with the options that were given on top."""
    from cs180utils.nerf import train as T  # noqa: PLC0415

    if args.fine is not None and not args.hierarchical:
        raise ValueError("--fine N needs --hierarchical (it is the number of fine samples per ray)")
    given = dict(steps=args.steps, rays_per_step=args.rays, n_samples=args.samples, n_fine=args.fine, lr=args.lr,
                 hierarchical=args.hierarchical, max_seconds=args.max_seconds, image_size=args.size,
                 seed=args.seed, device=args.device)
    return T.config_for(args.model, profile, **{k: v for k, v in given.items() if v is not None})


def run(args, command: str) -> dict:
    from cs180utils.nerf import train as T  # noqa: PLC0415

    if command == "train nerf":
        profile = config.get_profile(args.profile)
        cfg = train_config(args, profile)
        scene = _scene(args)
        out = Path(args.out) if args.out else T.default_run_dir(args.model, profile, scene.name)
        result = T.train_nerf(cfg, scene, out, resume=not args.fresh)
        result.pop("history")
        return {"profile": profile, **result}

    t0 = time.perf_counter()
    model, cfg, state = T.load_trained(args.checkpoint, args.device)
    scene = T.prepare_scene(cfg, _scene(args))
    chunk = args.chunk or cfg.chunk
    if command == "eval nerf":
        res = T.evaluate(model, scene, None, chunk)
        return {"psnr": round(res["psnr"], 3), "per_view": [round(p, 2) for p in res["per_view"]],
                "views": len(res["per_view"]), "scene": scene.name, "checkpoint": args.checkpoint,
                "seconds": round(time.perf_counter() - t0, 1)}
    from cs180utils.nerf.video import render_video  # noqa: PLC0415
    size = args.size or scene.W
    c2ws = scene.c2ws_test[: args.frames] if args.frames else scene.c2ws_test
    out = Path(args.out) if args.out else config.runs_dir("nerf_render")
    res = render_video(model, c2ws, scene.focal * size / scene.W, size, out, fps=args.fps, chunk=chunk)
    return {**res, "seconds": round(time.perf_counter() - t0, 1), "peak_rss_mb": _peak_rss_mb(),
            "checkpoint": args.checkpoint}
