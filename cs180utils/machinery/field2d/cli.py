"""``python -m cs180utils train field2d``: fit a neural field to an image, headless.

    python -m cs180utils train field2d [--image hopper|fox|terrain|PATH] [--image-size N] [--L 10] [--width 256]
        [--depth 4] [--steps N] [--batch-size 10000] [--lr 1e-2] [--max-seconds S] [--eval-every N]
        [--dtype float32|float64] [--encoding pe|grid] [--grid-levels 8] [--grid-features 2] [--grid-base 16]
        [--grid-finest N|image] [--grid-log2-hashmap 18|none] [--profile smoke|cpu|full] [--out DIR] [--fresh]

``--encoding grid`` swaps the course's positional encoding for a multiresolution grid (Instant-NGP) and takes
``experiment.GRID_PRESETS`` on top of the profile's preset (a 64 x 2 MLP; cpu: a one-minute budget).

Options left out keep the profile's preset (``experiment.PRESETS``). The run checkpoints into ``--out`` (default
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

from cs180utils.machinery import cli, config, training
from cs180utils.machinery.settings import UNSET, config_dict

# command-line options that set FitConfig fields of the same name
FIELDS = ("image_size", "L", "width", "depth", "steps", "batch_size", "lr", "max_seconds", "eval_every", "dtype",
          "seed", "encoding", "grid_levels", "grid_features", "grid_base", "grid_finest", "grid_log2_hashmap")


_whole_number = cli.number(int, minimum=0)
_image_size = cli.number(int, minimum=2, none=("none", "full"), unit=" pixels")   # the longer side, or the image as it is
_grid_finest = cli.number(int, minimum=2, none=("image", "none"), unit=" vertices")  # or the image's longer side
_log2_hashmap = cli.number(int, minimum=1, none=("none", "dense"))                 # or every level dense


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    cli.add_training_options(parser, "steps")
    g = parser.add_argument_group("field2d")
    g.add_argument("--image", default="hopper",
                   help="hopper (matplotlib's grace_hopper.jpg, default), fox (the course's photo; falls back to "
                        "hopper with a notice), terrain, or a path to a jpg/png")
    g.add_argument("--image-size", type=_image_size, default=UNSET,
                   help="downscale so the longer side is at most N pixels ('none': as it is; default: the "
                        "profile's, smoke 64, else none)")
    g.add_argument("--L", type=_whole_number, default=UNSET, help="positional-encoding frequencies (course: 10)")
    g.add_argument("--width", type=cli.positive_int, default=UNSET, help="MLP hidden width D (course: 256)")
    g.add_argument("--depth", type=cli.positive_int, default=UNSET, help="Linear layers in the MLP (course: 4)")
    g.add_argument("--eval-every", type=cli.positive_int, default=UNSET, help="whole-image PSNR every N steps")
    g.add_argument("--dtype", choices=("float32", "float64"), default=UNSET,
                   help="train in this precision (default float32; see notebook 01 on precision)")
    g.add_argument("--encoding", choices=("pe", "grid"), default=UNSET,
                   help="pe: the course's positional encoding (default); grid: a multiresolution grid "
                        "(Instant-NGP) with its own presets (experiment.GRID_PRESETS)")
    g.add_argument("--grid-levels", type=cli.positive_int, default=UNSET, help="grid: resolutions (default 8)")
    g.add_argument("--grid-features", type=cli.positive_int, default=UNSET,
                   help="grid: features per vertex and level (default 2)")
    g.add_argument("--grid-base", type=cli.number(int, minimum=2), default=UNSET,
                   help="grid: coarsest resolution (default 16)")
    g.add_argument("--grid-finest", type=_grid_finest, default=UNSET,
                   help="grid: finest resolution ('image', the default: the image's longer side)")
    g.add_argument("--grid-log2-hashmap", type=_log2_hashmap, default=UNSET,
                   help="grid: hash levels with more than 2^N vertices ('none': all dense; default 18)")


def run(args: argparse.Namespace, command: str) -> dict:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    from PIL import Image  # noqa: PLC0415

    from cs180utils.machinery.field2d import experiment, plots  # noqa: PLC0415

    t0 = time.perf_counter()
    profile = config.get_profile(args.profile)
    cfg = experiment.config(profile, **cli.overrides(args, FIELDS))
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
