"""``train resnet|unet|unet-binary`` and ``eval keypoints``: the 300-W experiment
(:mod:`cs180utils.machinery.keypoints.experiment_300w`) from the command line.

    python -m cs180utils train resnet        [--epochs N --crop-size S --pretrained ...]   (every Config300W field)
    python -m cs180utils train unet          [--sigma 2 --window 4|none ...]     Gaussian heatmaps
    python -m cs180utils train unet-binary                                       binary-mask heatmaps
    python -m cs180utils eval keypoints --checkpoint runs/300w/resnet-<hash>/checkpoint.pt --labels faces.xml
    python -m cs180utils predict keypoints --checkpoint runs/300w/resnet-<hash> --labels labels_ibug_300W_test_parsed.xml \
        --csv submission.csv                       the Kaggle CSV for face boxes with or without <part>s

Options left out keep the profile's preset. ``--out`` defaults to the run folder a notebook with the same
settings uses (``runs/300w/<name>-<hash>``); running the same command again resumes from its checkpoint.
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from cs180utils.machinery import cli, settings, sources
from cs180utils.machinery.keypoints import experiment_300w as exp
from cs180utils.keypoints import ibug
from cs180utils.machinery.settings import UNSET

def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    if command == "predict keypoints":
        add_predict_arguments(parser)
        return
    if command == "eval keypoints":
        parser.add_argument("--checkpoint", required=True,
                            help="checkpoint.pt (or its run folder) written by train resnet|unet|unet-binary")
        parser.add_argument("--labels", default=None,
                            help="dlib XML of faces to score (images relative to it); default: the 300-W test XML")
        parser.add_argument("--method", default="soft-argmax", choices=("soft-argmax", "argmax"),
                            help="heatmap read-out for U-Nets")
        return
    cli.add_training_options(parser)
    g = parser.add_argument_group("300-W data")
    g.add_argument("--train-xml", default=None, help="training faces (dlib XML); default: the 300-W train file")
    g.add_argument("--val-xml", default=None, help="validation faces (dlib XML); default: the 300-W test file")
    name = command.split()[1]
    settings.add_options(parser, exp.Config300W, title=f"{name} settings (Config300W)",
                         skip=[f.name for f in dataclasses.fields(exp.Config300W) if f.name not in exp.options_of(name)])


def config_from_args(args: argparse.Namespace, command: str) -> exp.Config300W:
    """The experiment's configuration: the profile's preset with the options given."""
    return exp.config(command.split()[1], args.profile, **settings.from_args(args, exp.Config300W))


def run(args: argparse.Namespace, command: str) -> dict:
    if command == "predict keypoints":
        return run_predict(args)
    if command == "eval keypoints":
        return run_eval(args)
    cfg = config_from_args(args, command)
    data = exp.load_data(cfg, args.data_dir, args.train_xml, args.val_xml)
    out = Path(args.out) if args.out else exp.run_dir(cfg, data)
    return exp.train(cfg, data, out=out, fresh=args.fresh).result


def run_eval(args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    model, cfg, mean = exp.load_model(args.checkpoint, None if args.device is UNSET else args.device)
    labels = args.labels
    if labels is None:
        labels = sources.labels_path("test", data_dir=args.data_dir)
        if labels is None:
            raise FileNotFoundError("no --labels given and the 300-W test XML is not in the data directory; "
                                    "pass --labels FILE.xml (dlib imglab format, images relative to it)")
    crops = ibug.FaceCrops.from_faces(ibug.read_dlib_xml(labels), cfg.crop_size, cfg.margin)
    r = exp.evaluate(model, cfg, crops, mean, method=args.method)
    return {"nme": r["nme"], "mae_px": r["mae_px"], "n_images": r["n_images"], "baseline_nme": r["baseline_nme"],
            "labels": str(labels), "checkpoint": str(args.checkpoint), "seconds": round(time.perf_counter() - t0, 1)}


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    """``predict keypoints``: the options of a submission."""
    parser.add_argument("--checkpoint", required=True,
                        help="checkpoint.pt (or its run folder) written by train resnet|unet|unet-binary")
    parser.add_argument("--labels", required=True,
                        help="dlib XML of the face boxes to predict, with or without <part>s (images relative to "
                             "it), e.g. the Kaggle test file labels_ibug_300W_test_parsed.xml")
    parser.add_argument("--csv", default=None,
                        help="the submission CSV to write (default: submission-<labels name>.csv in the checkpoint's "
                             "run folder)")
    parser.add_argument("--method", default="soft-argmax", choices=("soft-argmax", "argmax"),
                        help="heatmap read-out for U-Nets")


def run_predict(args: argparse.Namespace) -> dict:
    """Predict every box of ``--labels`` and write the Kaggle CSV (``Id,Predicted``, one row per coordinate)."""
    t0 = time.perf_counter()
    ckpt = Path(args.checkpoint)
    csv = Path(args.csv) if args.csv else (ckpt if ckpt.is_dir() else ckpt.parent) / f"submission-{Path(args.labels).stem}.csv"
    cli.check_file_out(csv, "--csv" if args.csv else "the CSV", "submission.csv")   # before loading and predicting
    model, cfg, _ = exp.load_model(args.checkpoint, None if args.device is UNSET else args.device)
    faces = ibug.read_dlib_boxes(args.labels)
    pred = exp.predict_faces(model, cfg, faces, method=args.method)
    exp.write_submission(csv, pred)
    return {"model": cfg.name, "n_faces": len(faces), "n_images": len({f.image for f in faces}),
            "rows": int(pred.size), "csv": str(csv), "labels": str(args.labels), "checkpoint": str(args.checkpoint),
            "seconds": round(time.perf_counter() - t0, 1)}
