"""``python -m cs180utils train field2d``: fit a neural field to an image, headless.

    python -m cs180utils train field2d [--image hopper|fox|terrain|PATH] [--image-size N] [--L 10] [--width 256]
        [--depth 4] [--steps N] [--batch-size 10000] [--lr 1e-2] [--max-seconds S] [--eval-every N]
        [--dtype float32|float64] [--encoding pe|grid] [--grid-levels 8] [--grid-features 2] [--grid-base 16]
        [--grid-finest N|none] [--grid-log2-hashmap 18|none] [--profile smoke|cpu|full] [--out DIR] [--fresh]

``--encoding grid`` swaps the course's positional encoding for a multiresolution grid (Instant-NGP) with its own
presets (``experiment.PRESETS["grid"]``: a 64 x 2 MLP; cpu: a one-minute budget).

Every FitConfig field is an option; options left out keep the profile's preset (``experiment.PRESETS``). The run checkpoints into ``--out`` (default
``experiment.run_folder``: ``runs/field2d/<image>-<hash of the settings and the image>``, the folder notebook 01
uses for the same fit) and resumes from there when re-run; it writes ``final.png``, ``snapshots.png`` (renders
during training and the PSNR curve), ``history.json`` and ``result.json``.
Last stdout line: JSON with ``psnr`` (whole image, final model) and ``seconds`` (wall time of this call).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from cs180utils.machinery import cli, config, settings, training
from cs180utils.machinery.field2d import experiment
from cs180utils.machinery.settings import UNSET, config_dict

def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    cli.add_training_options(parser)
    g = parser.add_argument_group("field2d image")
    g.add_argument("--image", default="hopper",
                   help="hopper (matplotlib's grace_hopper.jpg, default), fox (the course's photo; falls back to "
                        "hopper with a notice), terrain, or a path to a jpg/png")
    settings.add_options(parser, experiment.FitConfig, skip=("seed",), title="field2d settings (FitConfig)")


def run(args: argparse.Namespace, command: str) -> dict:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    from PIL import Image  # noqa: PLC0415

    from cs180utils.machinery.field2d import plots  # noqa: PLC0415

    t0 = time.perf_counter()
    profile = config.get_profile(args.profile)
    cfg = experiment.config(profile, **settings.from_args(args, experiment.FitConfig))
    image, name = experiment.load(args.image, cfg, data_dir=args.data_dir)
    out = Path(args.out) if args.out else experiment.run_folder(cfg, image, name)
    device = config.pick_device(None if args.device is UNSET else args.device)
    result = experiment.fit(image, cfg, device=device, checkpoint=out / training.CHECKPOINT, resume=not args.fresh)

    Image.fromarray(result.final).save(out / "final.png")
    fig = plots.snapshot_strip(result.snapshots, result.history, title=f"{name}: {experiment.describe(cfg)}")
    fig.savefig(out / "snapshots.png", dpi=100, bbox_inches="tight")
    (out / "history.json").write_text(json.dumps(training.strict_json({"config": config_dict(cfg),
                                                                       **result.history}), indent=1))
    h, w = image.shape[:2]
    line = {"command": command, "profile": profile, "device": str(device), "image": name, "H": h, "W": w,
            "encoding": cfg.encoding, "L": cfg.L, "width": cfg.width, "depth": cfg.depth, "steps": result.steps, "batch_size": cfg.batch_size,
            "lr": cfg.lr, "dtype": cfg.dtype, "psnr": round(result.psnr, 3), "train_seconds": round(result.seconds, 2),
            "ms_per_step": round(1000 * result.seconds / max(result.steps, 1), 2),
            "resumed_from_step": result.resumed_from, "out": str(out), "seconds": round(time.perf_counter() - t0, 2)}
    training.write_result(out, line)
    return line
