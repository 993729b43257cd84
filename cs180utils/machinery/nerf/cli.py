"""``python -m cs180utils train|eval|render nerf``: the NeRF experiment (:mod:`cs180utils.machinery.nerf.experiment`),
headless. This module only turns arguments into the experiment's config and calls it.

    python -m cs180utils train nerf [--scene NPZ] [--model vanilla|fast] [--preset course] [--steps N]
                                    [--hierarchical [--fine N]]
    python -m cs180utils eval nerf --checkpoint CKPT [--scene NPZ] [--render-samples N]
    python -m cs180utils render nerf --checkpoint CKPT [--scene NPZ] [--video-size 800] [--frames N] [--out DIR]
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from cs180utils.machinery import cli, config, settings
from cs180utils.machinery.settings import UNSET

# NerfConfig fields with an option of another name, and those with none (the nested fast-field config has none:
# its settings come from the preset; --seed and --device are the shared options)
RENAME = {"n_samples": "samples", "n_fine": "fine"}
NOT_OPTIONS = ("seed", "device")


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("--scene", default=None,
                        help="scene npz in the course's format (default: lego if found, else the generated scene)")
    if command == "train nerf":
        from cs180utils.machinery.nerf import experiment  # noqa: PLC0415
        cli.add_preset_option(parser, experiment.PRESETS["vanilla"])
        cli.add_training_options(parser)
        settings.add_options(parser, experiment.NerfConfig, skip=NOT_OPTIONS, rename=RENAME,
                             title="nerf settings (NerfConfig; --model fast: the fast field of notebook 10)")
        return
    parser.add_argument("--checkpoint", required=True, help="the checkpoint.pt that `train nerf` wrote")
    parser.add_argument("--chunk", type=cli.positive_int, default=UNSET,
                        help="rays rendered at once (memory bound; default: the training's)")
    parser.add_argument("--render-samples", type=cli.positive_int, default=UNSET,
                        help="samples per ray (default: the training's render_samples, else its samples)")
    if command == "render nerf":
        parser.add_argument("--video-size", type=cli.positive_int, default=UNSET,
                            help="video size in pixels, the longer side (default: the training size)")
        parser.add_argument("--frames", type=cli.positive_int, default=UNSET,
                            help="render only the first N test cameras (default: all)")
        parser.add_argument("--fps", type=cli.positive_int, default=15, help="frames per second (default 15)")


def model_of(args: argparse.Namespace) -> str:
    """``--model``, vanilla when left out."""
    return "vanilla" if args.model is UNSET else args.model


def preset_of(args: argparse.Namespace) -> str | None:
    """The named preset ``train nerf`` lays over the profile's: ``--preset``, else ``$CS180_PRESET`` where the
    model has it, else None."""
    from cs180utils.machinery.nerf import experiment  # noqa: PLC0415
    return settings.active_preset(experiment.PRESETS[model_of(args)], getattr(args, "preset", None))


def train_config(args: argparse.Namespace, profile: str | None = None):
    """The NerfConfig of ``train nerf``: the profile's preset with the options that were given on top."""
    from cs180utils.machinery.nerf import experiment  # noqa: PLC0415

    given = settings.from_args(args, experiment.NerfConfig)
    given.pop("model")
    cfg = experiment.config(model_of(args), profile or args.profile, preset_of(args) or "none", **given)
    if args.n_fine is not UNSET and not cfg.hierarchical:
        raise ValueError("--fine N needs --hierarchical (it is the number of fine samples per ray)")
    return cfg


def check_image_size(args: argparse.Namespace, scene) -> None:
    """Refuse an ``--image-size`` larger than the scene's images (before any work): training would upsample
    them, which adds no detail and costs memory by the square (100000 on lego asked for terabytes)."""
    size = getattr(args, "image_size", UNSET)
    if size is not UNSET and size is not None and size > max(scene.H, scene.W):
        raise ValueError(f"--image-size {size} is larger than the scene's images ({scene.name}: {scene.W} x "
                         f"{scene.H} pixels), which are not upsampled: pass --image-size {max(scene.H, scene.W)} "
                         f"or less (or leave it out)")


def _scene(args, out: str | None = None):
    """The scene of ``--scene`` (else lego, else the generated one, cached in ``out`` when given: a run with
    ``--out`` writes nothing into the repository's runs/)."""
    from cs180utils.machinery.sources import default_scene  # noqa: PLC0415
    return default_scene(args.scene, data_dir=args.data_dir, cache_dir=out)


def run(args: argparse.Namespace, command: str) -> dict:
    from cs180utils.machinery.nerf import experiment  # noqa: PLC0415

    if command == "train nerf":
        profile = config.get_profile(args.profile)
        cfg = train_config(args, profile)
        scene = _scene(args, args.out)
        check_image_size(args, scene)
        result = experiment.train(cfg, scene, args.out, resume=not args.fresh)
        result.pop("history")
        return {"profile": profile, "preset": preset_of(args), **result}

    t0 = time.perf_counter()
    model, cfg, state = experiment.load_trained(args.checkpoint, args.device or None, chunk=args.chunk,
                                                render_samples=args.render_samples)
    scene = experiment.prepare_scene(cfg, _scene(args, args.out if command == "render nerf" else None))
    trained_on = (state.get("extra") or {}).get("scene")
    if trained_on and trained_on != scene.name:   # allowed (e.g. a generalisation test), but never silent
        print(f"note: {args.checkpoint} was trained on {trained_on!r}; this {command} uses {scene.name!r} "
              f"(pass --scene for the training's scene)", file=sys.stderr)
    if command == "eval nerf":
        res = experiment.evaluate(model, scene, None, cfg.chunk)
        return {"psnr": round(res["psnr"], 3), "per_view": [round(p, 2) for p in res["per_view"]],
                "views": len(res["per_view"]), "samples_per_ray": model.settings.image_samples,
                "scene": scene.name, "checkpoint": args.checkpoint,
                "seconds": round(time.perf_counter() - t0, 1)}
    from cs180utils.machinery.nerf.video import render_video  # noqa: PLC0415
    h, w = scene.shape_at(args.video_size or max(scene.H, scene.W))   # a non-square scene keeps its aspect
    c2ws = scene.c2ws_test[: args.frames or len(scene.c2ws_test)]
    out = Path(args.out) if args.out else Path(args.checkpoint).parent / "video"
    res = render_video(model, c2ws, scene.focal * w / scene.W, (h, w), out, fps=args.fps, chunk=cfg.chunk)
    return {**res, "seconds": round(time.perf_counter() - t0, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "checkpoint": args.checkpoint}
