"""``python -m cs180utils VERB TARGET [options]``: the workbook's trainings, headless.

Every ``train``/``eval``/``render`` command prints, as its last line on stdout, one JSON object with its
headline metrics and ``"seconds"``.  Progress bars and logs go to stderr.

Each command lives in the module that owns its subject; that module provides

    add_arguments(parser: argparse.ArgumentParser, command: str) -> None
    run(args: argparse.Namespace, command: str) -> dict      # the JSON line

and this file only adds the shared options and dispatches (the module is imported only when used).
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Sequence

# VERB -> TARGET -> (module, one-line help)
COMMANDS: dict[str, dict[str, tuple[str, str]]] = {
    "train": {
        "field2d": ("cs180utils.field2d.cli", "fit a 2D neural field (PE + MLP) to an image (notebook 01)"),
        "nerf": ("cs180utils.nerf.cli", "train a NeRF on a scene npz (notebooks 02-04, 10); --model vanilla|fast"),
        "nose": ("cs180utils.keypoints.cli_imm", "nose-tip CNN on the IMM faces (notebook 05)"),
        "keypoints": ("cs180utils.keypoints.cli_imm", "all-keypoint CNN with augmentation on IMM (notebook 06)"),
        "resnet": ("cs180utils.keypoints.cli_300w", "ResNet18 on the 68-point iBUG 300-W set (notebook 07)"),
        "unet": ("cs180utils.keypoints.cli_300w", "U-Net with Gaussian heatmaps on 300-W (notebook 08)"),
        "unet-binary": ("cs180utils.keypoints.cli_300w", "U-Net with binary-mask heatmaps on 300-W (notebook 09)"),
    },
    "eval": {
        "nerf": ("cs180utils.nerf.cli", "PSNR of a NeRF checkpoint on a scene's validation images"),
        "keypoints": ("cs180utils.keypoints.cli_300w", "NME/MAE of a 300-W checkpoint on any dlib XML label file"),
    },
    "render": {
        "nerf": ("cs180utils.nerf.cli", "colour and depth videos of a NeRF checkpoint over the test cameras"),
    },
    "data": {
        "fetch": ("cs180utils.data", "download a dataset into the cache (lego, imm, ibug300w, fox)"),
        "where": ("cs180utils.data", "show where each dataset is found (or why not)"),
    },
}


def _usage() -> str:
    lines = ["usage: python -m cs180utils VERB TARGET [options]   (VERB TARGET --help for its options)", "",
             "commands:"]
    for verb, targets in COMMANDS.items():
        for target, (_, help_) in targets.items():
            lines.append(f"  {verb} {target:<12} {help_}")
    lines += ["", "shared options: --profile smoke|cpu|full, --data-dir DIR, --out DIR, --seed N, --device cpu|cuda|mps",
              "The last line on stdout of train/eval/render is one JSON object with the headline metrics."]
    return "\n".join(lines)


def common_parser() -> argparse.ArgumentParser:
    """The options every command shares (as a parent parser)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("shared options")
    g.add_argument("--profile", choices=("smoke", "cpu", "full"), default=None,
                   help="run profile (default: $CS180_PROFILE, else full on CUDA, else cpu)")
    g.add_argument("--data-dir", default=None, help="where the datasets are (default: $CS180_DATA_DIR, then data/)")
    g.add_argument("--out", default=None, help="output folder for checkpoints and figures (default: runs/<command>)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: best available)")
    return p


def build_parser(verb: str, target: str) -> tuple[argparse.ArgumentParser, object]:
    module_name, help_ = COMMANDS[verb][target]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"python -m cs180utils {verb} {target}", description=help_,
                                     parents=[common_parser()])
    module.add_arguments(parser, f"{verb} {target}")
    return parser, module


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2 or argv[0] not in COMMANDS or argv[1] not in COMMANDS[argv[0]]:
        print(_usage())
        asked_help = not argv or argv[0] in ("-h", "--help", "help")
        if not asked_help:
            print(f"\nerror: unknown command {' '.join(argv[:2])!r}", file=sys.stderr)
        return 0 if asked_help else 2
    verb, target = argv[0], argv[1]
    try:
        parser, module = build_parser(verb, target)
    except ImportError as exc:
        print(f"error: '{verb} {target}' is unavailable: {exc}. Reinstall the workbook (make setup) or "
              f"install the missing package.", file=sys.stderr)
        return 1
    args = parser.parse_args(argv[2:])
    try:
        result = module.run(args, f"{verb} {target}")
    except KeyboardInterrupt:
        print("interrupted: the last checkpoint is kept; run the same command again to resume", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, RuntimeError) as exc:  # clear, actionable errors from the package
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if result is not None:
        sys.stdout.flush()
        print(json.dumps(result, default=_jsonable), flush=True)
    return 0


def _jsonable(obj):
    """JSON fallback for numpy scalars and paths."""
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)
