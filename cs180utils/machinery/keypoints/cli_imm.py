"""``python -m cs180utils train nose|keypoints``: the IMM experiments (:mod:`cs180utils.machinery.keypoints.experiment_imm`)
from the command line. This module only turns the options into an :class:`~experiment_imm.ImmConfig`; every
option left out keeps the profile's preset. ``train nose --preset course``: the write-up's plain network;
``train keypoints --zoom off``: the first stage alone."""
from __future__ import annotations

import argparse
import sys
import time

import torch

from cs180utils.machinery import cli, config, settings
from cs180utils.machinery.keypoints import experiment_imm
from cs180utils.machinery.settings import UNSET

# option dest -> ImmConfig field
OPTIONS = {"epochs": "epochs", "max_seconds": "max_seconds", "batch_size": "batch_size", "lr": "lr",
           "sigmoid": "sigmoid", "augment": "augment", "seed": "seed", "device": "device", "zoom": "zoom"}

zoom_value = cli.number(float, above=0, maximum=1, none=("off", "none"))   # --zoom: a fraction in (0, 1], or off


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    named = experiment_imm.NAMED_PRESETS.get(command.split()[-1])
    if named:
        cli.add_preset_option(parser, tuple(named))
    cli.add_training_options(parser, "epochs")
    g = parser.add_argument_group(command)
    g.add_argument("--sigmoid", action=argparse.BooleanOptionalAction, default=UNSET,
                   help="squash the outputs to (0, 1) with a sigmoid (default: on)")
    g.add_argument("--augment", action=argparse.BooleanOptionalAction, default=UNSET,
                   help="brightness / rotation / shift / mirror augmentation of the training faces (default: on)")
    if command.endswith("keypoints"):
        g.add_argument("--zoom", type=zoom_value, default=UNSET, metavar="FRACTION|off",
                       help="second stage: a CNN on a crop around the first one's points, their box this fraction "
                            "of its width (default: the preset's, 0.6; off: one stage)")
    g.add_argument("--imm-dir", default=None, help="the IMM folder itself (default: found under --data-dir)")
    g.add_argument("--threads", type=cli.positive_int, default=None,
                   help="CPU threads for torch (default: torch's choice; 1 is faster on a busy machine)")


def run(args: argparse.Namespace, command: str) -> dict:
    task = command.split()[-1]                        # "train nose" / "train keypoints"
    if args.threads:
        torch.set_num_threads(args.threads)
    preset = settings.active_preset(experiment_imm.NAMED_PRESETS.get(task), getattr(args, "preset", None))
    cfg = experiment_imm.config(task, args.profile, preset or "none", **cli.overrides(args, OPTIONS))
    t0 = time.perf_counter()
    records, _ = experiment_imm.load_records(args.data_dir, args.imm_dir)
    result = experiment_imm.train(cfg, records, out=args.out or "auto", resume=not args.fresh,
                                  progress=sys.stderr.isatty())
    return {**result.summary, "seconds": round(time.perf_counter() - t0, 1), "profile": config.get_profile(args.profile),
            "preset": preset}
