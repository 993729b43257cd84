"""``python -m cs180utils train nose|keypoints``: the IMM experiments (:mod:`cs180utils.machinery.keypoints.experiment_imm`)
from the command line. This module only turns the options into an :class:`~experiment_imm.ImmConfig`; every
option left out keeps the profile's preset. ``train nose --preset course``: the write-up's plain network;
``train keypoints --zoom off``: the first stage alone. Every ImmConfig field is an option
(:func:`cs180utils.machinery.settings.add_options`)."""
from __future__ import annotations

import argparse
import sys
import time

import torch

from cs180utils.machinery import cli, config, settings
from cs180utils.machinery.keypoints import experiment_imm

# not options: the task is the command's; --seed and --device are the shared options
NOT_OPTIONS = ("task", "seed", "device")


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    task = command.split()[-1]
    cli.add_preset_option(parser, experiment_imm.PRESETS[task])
    cli.add_training_options(parser)
    g = parser.add_argument_group("IMM data")
    g.add_argument("--imm-dir", default=None, help="the IMM folder itself (default: found under --data-dir)")
    g.add_argument("--threads", type=cli.positive_int, default=None,
                   help="CPU threads for torch (default: torch's choice; 1 is faster on a busy machine)")
    settings.add_options(parser, experiment_imm.ImmConfig, title=f"{task} settings (ImmConfig)",
                         skip=NOT_OPTIONS + (("zoom", "zoom_scale") if task == "nose" else ()))


def run(args: argparse.Namespace, command: str) -> dict:
    task = command.split()[-1]                        # "train nose" / "train keypoints"
    if args.threads:
        torch.set_num_threads(args.threads)
    preset = settings.active_preset(experiment_imm.PRESETS[task], getattr(args, "preset", None))
    cfg = experiment_imm.config(task, args.profile, preset or "none",
                                **settings.from_args(args, experiment_imm.ImmConfig))
    t0 = time.perf_counter()
    records, _ = experiment_imm.load_records(args.data_dir, args.imm_dir)
    result = experiment_imm.train(cfg, records, out=args.out or "auto", resume=not args.fresh,
                                  progress=sys.stderr.isatty())
    return {**result.summary, "seconds": round(time.perf_counter() - t0, 1), "profile": config.get_profile(args.profile),
            "preset": preset}
