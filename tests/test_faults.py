"""Bad input and faults (issue #16), one row per kind, tried as a user would: the command line in-process (or the
reader a notebook calls). Each row asserts the exit code (or the exception), the message (which file or element,
what to do) and that nothing already on disk is lost: every file present before the row is still there, byte for
byte, afterwards.

Exit codes: 0 done, 1 a failure with a one-line message, 2 a bad option (argparse, before any work), 130 Ctrl-C,
143 SIGTERM.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from cs180utils.machinery import cli, config, data, training
from cs180utils.machinery.data import DataCorruptError
from cs180utils.machinery.data import lookup
from cs180utils import readers
from cs180utils.keypoints import ibug
from cs180utils.keypoints.asf import read_asf, write_asf
from cs180utils.machinery.nerf import experiment as nerf_experiment
from cs180utils.nerf import scene as nerf_scene

SMOKE = ["--profile", "smoke", "--device", "cpu"]


# ---- files the rows start from ---------------------------------------------------------------------------------

def scene_arrays(n_train=4, size=16, seed=0) -> dict:
    """A small valid scene in the course's npz format (uint8 images, rigid cameras looking at the origin)."""
    rng = np.random.default_rng(seed)
    cams = nerf_scene.sphere_cameras(n_train + 2 + 2, 4.0, seed=seed).numpy().astype(np.float64)
    img = lambda n: rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)  # noqa: E731
    return dict(images_train=img(n_train), c2ws_train=cams[:n_train], images_val=img(2),
                c2ws_val=cams[n_train:n_train + 2], c2ws_test=cams[n_train + 2:], focal=np.float64(size * 1.4))


def save_scene(path: Path, **changes) -> Path:
    np.savez(path, **{**scene_arrays(), **changes})
    return path


FACE_BOX = (10, 10, 40, 40)   # left, top, width, height in the 64 x 64 face image


def face_xml(folder: Path, name="faces.xml", parts=None, box=FACE_BOX, extra_box="") -> Path:
    """A dlib XML with one 68-point face on a 64 x 64 image (``parts``: {index: (x, y)} overrides, a value of
    None drops that part), and ``extra_box`` XML added to the same image."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "face.png").exists():
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)).save(folder / "face.png")
    pts = {i: (12 + (i % 9) * 4, 12 + (i // 9) * 4) for i in range(68)}
    pts.update(parts or {})
    body = "".join(f"<part name='{i:02d}' x='{x}' y='{y}'/>" for i, xy in pts.items() if xy is not None
                   for x, y in [xy])
    left, top, width, height = box
    (folder / name).write_text(
        "<?xml version='1.0'?><dataset><images><image file='face.png'>"
        f"<box top='{top}' left='{left}' width='{width}' height='{height}'>{body}</box>{extra_box}"
        "</image></images></dataset>")
    return folder / name


def asf_file(folder: Path, points=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pts = np.array([[0.3, 0.4], [0.5, 0.5], [0.7, 0.4]]) if points is None else np.asarray(points)
    return write_asf(folder / "01_01.asf", pts, "01_01.jpg")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2-step NeRF run and a 2-step 2-D field run (smoke), each in its own folder, made once."""
    root = tmp_path_factory.mktemp("trained")
    scene = save_scene(root / "scene.npz")
    nerf = ["train", "nerf", "--scene", str(scene), *SMOKE, "--steps", "2", "--image-size", "16"]
    assert cli.main([*nerf, "--out", str(root / "nerf")]) == 0
    assert cli.main(["train", "field2d", *SMOKE, "--steps", "2", "--image-size", "16", "--out",
                     str(root / "field2d")]) == 0
    return types.SimpleNamespace(root=root, scene=scene, nerf=root / "nerf", field2d=root / "field2d", nerf_argv=nerf)


@dataclass
class Ctx:
    tmp: Path
    trained: types.SimpleNamespace
    monkeypatch: pytest.MonkeyPatch
    cleanups: list = field(default_factory=list)   # called after the row, in order

    def run(self, name="run") -> Path:
        """A private copy of the trained NeRF run folder."""
        return Path(shutil.copytree(self.trained.nerf, self.tmp / name))

    def nerf(self, *more: str, run: Path | None = None) -> list[str]:
        """``train nerf`` on the fixture's scene, resuming ``run`` (default: a copy of the trained run)."""
        return [*self.trained.nerf_argv, "--out", str(run or self.run()), *more]

    def loss_does(self, what: Callable[[int], None]) -> None:
        """Make the NeRF training step call ``what(step)`` first (to raise, interrupt or signal there)."""
        real, calls = nerf_experiment.ray_batch_loss, []

        def patched(*args, **kwargs):
            calls.append(1)
            what(len(calls))
            return real(*args, **kwargs)
        self.monkeypatch.setattr(nerf_experiment, "ray_batch_loss", patched)


def nan_loss_after(n: int):
    real = nerf_experiment.ray_batch_loss
    calls = []

    def patched(*args, **kwargs):
        calls.append(1)
        loss, logs = real(*args, **kwargs)
        return (loss * float("nan"), logs) if len(calls) > n else (loss, logs)
    return patched


# ---- the table ------------------------------------------------------------------------------------------------

@dataclass
class Row:
    id: str
    make: Callable[[Ctx], list[str] | Callable[[], object]]   # argv of the CLI, or a reader call
    rc: int | type | None   # exit code; an exception type (reader rows); None: the call returns, its check passes
    err: str = ""           # regex searched in stderr / the exception's message
    disk: Callable[[Ctx], bool] | None = None   # what is on disk after the row (beyond "nothing lost"), if checked


def opt(*argv):
    return lambda c: list(argv)


ROWS = [
    # -- numbers out of range: refused by argparse before any work (exit 2), naming the option --------------
    Row("samples 0", opt("train", "nerf", "--samples", "0"), 2, r"argument --samples: must be at least 1, got 0"),
    Row("steps 0", opt("train", "nerf", "--steps", "0"), 2, r"argument --steps: must be at least 1, got 0"),
    Row("fine 0", opt("train", "nerf", "--hierarchical", "--fine", "0"), 2, r"argument --fine: must be at least 1"),
    Row("image size 0 (field2d)", opt("train", "field2d", "--image-size", "0"), 2,
        r"argument --image-size: must be at least 2 pixels, got 0"),
    Row("image size negative (nerf)", opt("train", "nerf", "--image-size", "-5"), 2, r"argument --image-size"),
    Row("image size 100000 (nerf, issue #34)", lambda c: ["train", "nerf", *SMOKE, "--out", str(c.tmp / "r"),
                                                          "--image-size", "100000"], 2,
        r"argument --image-size: must be at most 4096 pixels \(the images' longer side; None: the scene's own\), "
        r"got 100000$", disk=lambda c: not (c.tmp / "r").exists()),
    Row("rays x samples past the machine's memory (nerf, issue #34)",
        lambda c: ["train", "nerf", *SMOKE, "--out", str(c.tmp / "r"), "--batch-size", "100000000", "--samples", "1000"],
        1, r"^error: a step of 100000000 rays x 1000 samples through .* needs at least [\d.]+ GiB a step, more than "
           r"this machine's [\d.]+ GiB \(RAM\): lower --batch-size, --samples \(--fine\) or --width$",
        disk=lambda c: not (c.tmp / "r").exists()),
    Row("faces x crop past the machine's memory (unet, issue #34)",
        lambda c: ["train", "unet", *SMOKE, "--out", str(c.tmp / "r"), "--batch-size", "1000000"],
        1, r"^error: a step of 1000000 faces of \d+ x \d+ pixels needs at least [\d.]+ GiB a step, more than this "
           r"machine's [\d.]+ GiB \(RAM\): lower --batch-size, --crop-size or --widths$",
        disk=lambda c: not (c.tmp / "r").exists()),
    Row("batch size 0", opt("train", "nerf", "--batch-size", "0"), 2, r"argument --batch-size: must be at least 1"),
    Row("fps 0", opt("render", "nerf", "--checkpoint", "c.pt", "--fps", "0"), 2, r"argument --fps: must be at least 1"),
    Row("video size negative", opt("render", "nerf", "--checkpoint", "c.pt", "--video-size", "-8"), 2,
        r"argument --video-size: must be at least 1, got -8"),
    Row("chunk negative", opt("eval", "nerf", "--checkpoint", "c.pt", "--chunk", "-4"), 2, r"argument --chunk"),
    Row("crop size 0", opt("train", "resnet", "--crop-size", "0"), 2, r"argument --crop-size: must be at least 1"),
    Row("epochs 0", opt("train", "keypoints", "--epochs", "0"), 2, r"argument --epochs: must be at least 1"),
    Row("lr nan", opt("train", "field2d", "--lr", "nan"), 2, r"argument --lr: 'nan' is not a finite number"),
    Row("max seconds negative", opt("train", "nerf", "--max-seconds", "-1"), 2, r"argument --max-seconds"),
    Row("sigma 0", opt("train", "unet", "--sigma", "0"), 2, r"argument --sigma: must be above 0"),
    Row("device tpu", opt("train", "field2d", "--device", "tpu"), 2,
        r"argument --device: unknown device 'tpu': use one of cpu, cuda, cuda:N, mps$"),
    Row("unknown command", opt("train", "transformer"), 2, r"unknown command 'train transformer'"),

    # -- --out: checked before any work -----------------------------------------------------------------------
    Row("--out is a file", lambda c: ["train", "resnet", *SMOKE, "--out", str(_file(c.tmp / "taken", b"mine"))], 1,
        r"--out .*taken is a file; pass a folder"),
    Row("--out under a file", lambda c: ["train", "nerf", *SMOKE, "--out", str(_file(c.tmp / "f", b"x") / "run")], 1,
        r"--out .*f/run cannot be created: .*f is a file"),
    Row("--out not writable", lambda c: ["train", "resnet", *SMOKE, "--out", "/proc/cs180-faults/run"], 1,
        r"--out /proc/cs180-faults/run is not writable .*pass a folder you can write to"),

    # -- data found, checked, or refused with the reason ----------------------------------------------------------
    Row("empty npz: data where", lambda c: ["data", "where", "--data-dir", str(_data_dir(c, lego=b""))], 1,
        r"lego: .*lego_200x200.npz: empty \(0 bytes\)"),
    Row("8-byte jpg: data where", lambda c: ["data", "where", "--data-dir", str(_data_dir(c, fox=b"\xff\xd8\xff\xe0abcd"))],
        1, r"fox: .*fox.jpg: not a readable image"),
    Row("empty npz: data fetch", lambda c: ["data", "fetch", "lego", "--data-dir", str(_data_dir(c, lego=b""))], 1,
        r"lego: .*lego_200x200.npz is not a usable copy \(empty \(0 bytes\)\), and it is the first copy of 'lego' in "
        r"the folders searched; delete it or replace it with a good copy"),
    Row("broken copy first, a good one further down", lambda c: _broken_first(c, ["train", "nerf", *SMOKE, "--steps", "1",
                                                                                  "--out", str(c.tmp / "r")]), 1,
        r"^error: lego: .*data/lego_200x200.npz is not a usable copy \(not a readable .npz \(BadZipFile: .*\)\), and it "
        r"is the first copy of 'lego' in the folders searched; delete it or replace it with a good copy",
        disk=lambda c: not (c.tmp / "r").exists()),
    Row("broken copy first: data where lists both", lambda c: _broken_first(c, ["data", "where"]), 1,
        r"lego: .*data/lego_200x200.npz: not a readable .npz .*\(error: the first copy found, training stops on it; "
        r"delete it or replace it with a good copy\)\nlego: .*good/lego_200x200.npz: usable \(not used: "
        r".*data/lego_200x200.npz comes first\)$"),
    Row("broken copy first: data where exits 1 (issue #34)", lambda c: _broken_first(c, ["data", "where"]), 1,
        r"\(not used: .*data/lego_200x200.npz comes first\)\n(.*\n)*error: the first copy found of lego \(.*data/"
        r"lego_200x200.npz\) cannot be used, and training stops on it \(see above\): delete or replace it with a "
        r"good copy \(python -m cs180utils data fetch lego downloads one once it is gone\)\n\Z"),
    Row("CS180_DATA_DIR is a file", lambda c: _env(c, ["train", "nerf", *SMOKE, "--out", str(c.tmp / "r")],
                                                   CS180_DATA_DIR=str(_file(c.tmp / "f", b"x"))), 1,
        r"^error: CS180_DATA_DIR=.*/f is a file, not a folder: set CS180_DATA_DIR to the folder that holds the "
        r"datasets, or unset it$", disk=lambda c: not (c.tmp / "r").exists()),
    Row("CS180_DATA_DIR does not exist (issue #34)", lambda c: _env(c, ["train", "nerf", *SMOKE, "--out",
                                                                      str(c.tmp / "r")],
                                                                CS180_DATA_DIR=str(c.tmp / "dtaa")), 1,
        r"^error: CS180_DATA_DIR=.*/dtaa does not exist: set CS180_DATA_DIR to the folder that holds the datasets, "
        r"or unset it$", disk=lambda c: not (c.tmp / "r").exists()),
    Row("empty npz as --scene", lambda c: ["train", "nerf", *SMOKE, "--scene", str(_file(c.tmp / "s.npz", b""))], 1,
        r"s.npz is not a readable .npz .*delete it and download it again"),
    Row("folder as --scene", lambda c: ["train", "nerf", *SMOKE, "--scene", str(c.tmp)], 1,
        r"scene .* is a folder, expected the scene's .npz file"),
    Row("missing --scene", lambda c: ["train", "nerf", *SMOKE, "--scene", str(c.tmp / "nope.npz")], 1,
        r"nope.npz does not exist.*data fetch lego"),
    Row("NaN camera pose", lambda c: _scene_cmd(c, c2ws_train=_poses(nan_at=3)), 1,
        r"c2ws_train\[3\] \(camera 3\) holds NaN or inf; fix or remove that view"),
    Row("non-rigid camera pose", lambda c: _scene_cmd(c, c2ws_val=_poses(2, scale_at=1)), 1,
        r"c2ws_val\[1\] \(camera 1\) is not a camera-to-world pose"),
    Row("NaN pixels", lambda c: _scene_cmd(c, images_train=np.full((4, 16, 16, 3), np.nan, np.float32)), 1,
        r"images_train holds NaN or inf pixels"),
    Row("pickled array in the npz", lambda c: _scene_cmd(c, focal=np.array([{"f": 20.0}], dtype=object)), 1,
        r"^error: NeRF scene: .*bad.npz\['focal'\] is an array of Python objects \(pickled\), which is not read: "
        r"loading it could run code; save 'focal' as a numeric array .*and pass that file$"),
    Row("focal 0", lambda c: _scene_cmd(c, focal=np.float64(0)), 1, r"focal must be one positive number"),
    Row("near >= far", lambda c: _scene_cmd(c, near=np.float64(6), far=np.float64(2)), 1,
        r"near 6.0 and far 2.0 must be finite with 0 <= near < far"),
    Row("one training image (issue #34)", lambda c: _scene_cmd(c, images_train=scene_arrays()["images_train"][:1],
                                                             c2ws_train=scene_arrays()["c2ws_train"][:1]), 1,
        r"^error: .*bad.npz: a scene needs at least 2 training images \(views from different cameras\) and 1 "
        r"validation image; it has 1 training and 2 validation images: add views \(lego has 100 and 10\) or pass "
        r"another scene$", disk=lambda c: not (c.tmp / "r").exists()),
    Row("16-bit scene images", lambda c: _check_16bit_scene(c), None),
    Row("non-square scene", lambda c: _check_non_square(c), None),
    Row("resume on another scene", lambda c: c.nerf("--steps", "4", "--scene", str(save_scene(c.tmp / "b.npz",
                                                                                           **_other_images()))), 1,
        r"trained with other settings or data — the data: .*\(saved\) vs .*\(now\).*Pass another --out"),
    Row("resume with another --lr", lambda c: c.nerf("--steps", "4", "--lr", "0.001"), 1,
        r"lr: 0.0005 \(saved\) vs 0.001 \(now\)"),
    Row("generated scene under --out", lambda c: _check_generated_cache(c), None),

    # -- images -----------------------------------------------------------------------------------------------
    Row("16-bit PNG", lambda c: _check_16bit_png(c), None),
    Row("decompression bomb (a 72-megapixel PNG): one clean line", lambda c: _bomb(c), 1,
        r"^error: image: .*bomb.png is 1200 x 1000 pixels \(1 megapixels\), more than the 1 megapixels read \(a "
        r"decompression bomb, or a photo far larger than needed\); downscale it \(or crop it\) and pass that$"),
    Row("truncated jpg", lambda c: ["train", "field2d", *SMOKE, "--image", str(_truncated_jpg(c.tmp))], 1,
        r"cut.jpg is not a readable image .*replace it with a JPEG or PNG"),
    Row("truncated photo in the IMM faces", lambda c: _imm_truncated(c), 1,
        r"^error: IMM face: .*01_02.jpg is not a readable image \(OSError: image file is truncated.*\); replace it "
        r"with a JPEG or PNG$", disk=lambda c: not (c.tmp / "r").exists()),
    Row("1 x 1 image (issue #34)", lambda c: ["train", "field2d", *SMOKE, "--image", str(_png(c.tmp / "dot.png", 1, 1)),
                                              "--out", str(c.tmp / "r")], 1,
        r"^error: image: .*dot.png is 1 x 1 pixels, too small \(at least 2 x 2\); pass a larger image$",
        disk=lambda c: not (c.tmp / "r").exists()),
    Row("folder as --image", lambda c: ["train", "field2d", *SMOKE, "--image", str(c.tmp)], 1,
        r"is a folder, expected an image file"),

    # -- dlib XML (300-W labels) -------------------------------------------------------------------------------
    Row("missing <part>", lambda c: _xml_cmd(c, parts={30: None}), 1,
        r"faces.xml: image 'face.png', box .* has 67 of its 68 parts \(missing: 30\); label every part"),
    Row("NaN coordinate in XML", lambda c: _xml_cmd(c, parts={5: ("nan", 20)}), 1,
        r"image 'face.png', .*part 05 has a non-finite coordinate"),
    Row("part far outside", lambda c: _xml_cmd(c, parts={7: (5000, 20)}), 1,
        r"part 07 at \(5000, 20\) lies far outside its box"),
    Row("zero-size box", lambda c: _xml_cmd(c, box=(10, 10, 0, 0)), 1, r"box .* is empty or not finite"),
    Row("part-less boxes stay readable", lambda c: _check_partless(c), None),
    Row("folder as --train-xml", lambda c: ["train", "resnet", *SMOKE, "--train-xml", str(c.tmp), "--val-xml",
                                            str(face_xml(c.tmp / "ok")), "--out", str(c.tmp / "r")], 1,
        r"is a folder, expected a dlib XML file"),

    # -- .asf (IMM) ------------------------------------------------------------------------------------------------
    Row(".asf NaN coordinate", lambda c: lambda: read_asf(asf_file(c.tmp, [[0.3, np.nan], [0.5, 0.5]])),
        DataCorruptError, r"01_01.asf:17: point 0 has a NaN coordinate \(0 0 0.30000000 nan \.\.\.\); fix that point or re-extract the dataset$"),
    Row(".asf point far outside", lambda c: lambda: read_asf(asf_file(c.tmp, [[3.0, 0.4], [0.5, 0.5]])),
        DataCorruptError, r"01_01.asf:17: point 0 at \(3.0, 0.4\): coordinates are not relative"),
    Row(".asf point count one too many", lambda c: lambda: read_asf(_recount(asf_file(c.tmp), 4)), DataCorruptError,
        r"01_01.asf: header says 4 points but only 3 point lines follow \(truncated file\? re-extract the dataset\)$"),
    Row(".asf point count one too few", lambda c: lambda: read_asf(_recount(asf_file(c.tmp), 2)), DataCorruptError,
        r"01_01.asf:10: header says 2 points but 3 point lines follow; correct the count or re-extract the dataset$"),
    Row(".asf truncated", lambda c: lambda: read_asf(_truncate(asf_file(c.tmp), 0.8)), DataCorruptError,
        r"01_01.asf: header says 3 points but only .* \(truncated file\? re-extract the dataset\)"),
    Row("IMM photo without its .asf (issue #34)", lambda c: _imm_cmd(c, lambda f: (f / "01_02.asf").unlink()), 1,
        r"^error: IMM faces: .*imm/01_02.jpg has no label file 01_02.asf beside it; 1 of 24 photos are unlabelled, so "
        r"the dataset is incomplete: replace the folder with a fresh copy \(delete it, then python -m cs180utils data "
        r"fetch imm\), or remove the photo$", disk=lambda c: not (c.tmp / "r").exists()),

    # -- checkpoints ---------------------------------------------------------------------------------------------
    Row("truncated checkpoint", lambda c: _eval(c, _truncate(c.run() / "checkpoint.pt", 0.5)), 1,
        r"checkpoint .* is unreadable .*delete it and train again"),
    Row("empty checkpoint", lambda c: _eval(c, _file(c.tmp / "checkpoint.pt", b"")), 1, r"is unreadable"),
    Row("field2d checkpoint to eval nerf", lambda c: _eval(c, c.trained.field2d / "checkpoint.pt"), 1,
        r"field2d/checkpoint.pt is not a NeRF checkpoint; pass the checkpoint.pt that `python -m cs180utils train "
        r"nerf` wrote"),
    Row("nerf checkpoint to eval keypoints", lambda c: ["eval", "keypoints", "--checkpoint",
                                                        str(c.trained.nerf / "checkpoint.pt")], 1,
        r"is not a 300-W keypoint checkpoint .*train resnet\|unet\|unet-binary"),
    Row("predict --csv into a folder (issue #34)", lambda c: ["predict", "keypoints", "--checkpoint",
                                                              str(c.trained.nerf / "checkpoint.pt"), "--labels",
                                                              str(face_xml(c.tmp / "xml")), "--csv", str(c.tmp)], 1,
        r"^error: --csv .* is a folder; pass a file name \(e.g. .*/submission.csv\)$"),   # before the checkpoint is read
    Row("NaN weights", lambda c: _eval(c, _nan_weights(c.run())), 1,
        r"holds non-finite weights \(NaN or inf in .*\): the training diverged; delete it and train again"),
    Row("folder without checkpoint", lambda c: _eval(c, c.tmp), 1, r"is a folder without a checkpoint.pt"),
    Row("checkpoint missing a weight (issue #34)", lambda c: _eval(c, _drop_weight(c.run())), 1,
        r"^error: checkpoint .*run/checkpoint.pt does not fit the model its settings build \(missing: "
        r"field\.rgb_head\.\d+\.bias\); pass the checkpoint.pt of the run you mean \(its path is in the training's "
        r"JSON line\), or train it again \(train nerf --fresh\)$"),
    Row("run folder as --checkpoint", lambda c: _eval(c, c.run()), 0, r""),

    # -- faults while training -----------------------------------------------------------------------------------
    Row("NaN loss, no checkpoint yet", lambda c: _with(c, nan_loss_after(1), c.nerf(run=c.tmp / "new")), 1,
        r"the training loss became nan at step 1: lower the learning rate \(--lr\); no checkpoint was written"),
    Row("NaN loss on resume", lambda c: _with(c, nan_loss_after(1), c.nerf("--steps", "6")), 1,
        r"the training loss became nan at step 3: .*the last checkpoint \(.*checkpoint.pt\) is kept"),
    Row("Ctrl-C before the first checkpoint", lambda c: _interrupt(c, KeyboardInterrupt, new=True), 130,
        r"interrupted before the first checkpoint: nothing was saved; run the same command again to start over"),
    Row("Ctrl-C after a checkpoint", lambda c: _interrupt(c, KeyboardInterrupt, "--steps", "6"), 130,
        r"interrupted: the last checkpoint \(.*checkpoint.pt\) is kept; run the same command again to resume"),
    Row("SIGTERM", lambda c: _interrupt(c, "SIGTERM", "--steps", "6"), 143,
        r"stopped by SIGTERM: the last checkpoint \(.*checkpoint.pt\) is kept"),
    Row("disk full at a checkpoint", lambda c: _disk_full(c), 1,
        r"could not write checkpoint .*checkpoint.pt \(No space left on device\); the previous checkpoint is kept"),
    Row("disk full while writing a video (issue #34)", lambda c: _video_disk_full(c), 1,
        r"^error: could not write the video .*video/novel_views.mp4 \(\[Errno 32\] Broken pipe: ffmpeg stopped, is "
        r"the disk full\?\); its partial files were removed \(an earlier video of that name is kept\): free some "
        r"space or pass another --out, then run the same command again$",
        disk=lambda c: sorted(p.name for p in (c.tmp / "video").iterdir()) == ["novel_views.mp4"]),
    Row("a bug: one line", lambda c: _fake(c, lambda: 1 / 0), 1,
        r"^error: internal error \(ZeroDivisionError: division by zero\); this is a bug .*--debug"),
    Row("a bug with --debug", lambda c: _fake(c, lambda: 1 / 0, "--debug"), 1,
        r"Traceback \(most recent call last\)(.|\n)*ZeroDivisionError"),
    Row("OSError: one line", lambda c: _fake(c, lambda: open(c.tmp / "no" / "such"), "--out", str(c.tmp)), 1,
        r"^error: \[Errno 2\] No such file or directory: .*no/such'\n$"),
    Row("NaN in a result: strict JSON", lambda c: _fake(c, lambda: {"psnr": float("nan")}), 0, r""),

    # -- names and places from the environment (issue #34) ---------------------------------------------------------
    Row("misspelt CS180_PRESET", lambda c: _env(c, ["train", "field2d", *SMOKE, "--out", str(c.tmp / "r")],
                                                CS180_PRESET="corse"), 1,
        r"^error: unknown preset 'corse': choose one of course, none \(CS180_PRESET='corse' in the environment: "
        r"set it to one of them or unset it\)$", disk=lambda c: not (c.tmp / "r").exists()),
    Row("misspelt CS180_PROFILE", lambda c: _env(c, ["data", "where"], CS180_PROFILE="crp"), 1,
        r"^error: unknown profile 'crp': choose one of smoke, cpu, full \(CS180_PROFILE='crp' in the environment"),
    Row("two trainings into one --out", lambda c: _held(c), 1,
        r"^error: run folder .*/run is in use by another training \(pid \d+\); wait for it to finish, or pass "
        r"another --out$", disk=lambda c: (c.tmp / "run" / training.LOCK).read_text().strip() == str(c.holder.pid)),
    Row("stale lock of a killed training", lambda c: _stale_lock(c), 0, r"",
        disk=lambda c: not (c.tmp / "run" / training.LOCK).exists() and (c.tmp / "run" / "checkpoint.pt").is_file()),
    Row("CUDA asked, none here", lambda c: ["train", "field2d", *SMOKE[:2], "--device", "cuda", "--steps", "1",
                                            "--image-size", "16", "--out", str(c.tmp / "r")], 1,
        r"CUDA is not available here; use --device cpu"),
]


# ---- row helpers ------------------------------------------------------------------------------------------------

def _held(c: Ctx) -> list[str]:
    """The trained run resumed with more steps while another process holds its folder, as a training does."""
    import subprocess
    run = c.run()
    code = ("import sys, time; from cs180utils.machinery import training\n"
            "with training.run_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)\n")
    c.holder = subprocess.Popen([sys.executable, "-c", code, str(run)], stdout=subprocess.PIPE, text=True,
                                cwd=Path(training.__file__).resolve().parents[2])
    c.cleanups.append(lambda: (c.holder.kill(), c.holder.wait()))
    assert c.holder.stdout.readline().strip() == "held"
    return c.nerf("--steps", "4", "--lr", "0.001", run=run)


def _stale_lock(c: Ctx) -> list[str]:
    """A lock file left by a training that was killed (its pid is gone, its flock with it): no obstacle."""
    run = c.tmp / "run"
    _file(run / training.LOCK, b"99999999\n")
    return c.nerf(run=run)


def _env(c: Ctx, argv: list[str], **env: str) -> list[str]:
    for k, v in env.items():
        c.monkeypatch.setenv(k, v)
    return argv


def _file(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _png(path: Path, width: int, height: int) -> Path:
    Image.new("RGB", (width, height), (200, 40, 40)).save(path)
    return path


def _truncate(path: Path, keep: float) -> Path:
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    return path


def _data_dir(c: Ctx, lego: bytes | None = None, fox: bytes | None = None) -> Path:
    """A data folder holding broken copies; lookup isolated (no $CS180_DATA_DIR, private cache, offline)."""
    c.monkeypatch.delenv("CS180_DATA_DIR", raising=False)
    c.monkeypatch.setenv("CS180_CACHE_DIR", str(c.tmp / "cache"))
    c.monkeypatch.setenv("CS180_OFFLINE", "1")
    c.monkeypatch.setattr(lookup, "_NOTICED", set())
    d = c.tmp / "data"
    if lego is not None:
        _file(d / "lego_200x200.npz", lego)
    if fox is not None:
        _file(d / "fox.jpg", fox)
    return d


def _broken_first(c: Ctx, argv: list[str]) -> list[str]:
    """A broken lego copy in --data-dir, a good one in $CS180_DATA_DIR (searched after it)."""
    d = _data_dir(c, lego=b"PK\x03\x04garbage")
    (c.tmp / "good").mkdir()
    save_scene(c.tmp / "good" / "lego_200x200.npz")
    c.monkeypatch.setenv("CS180_DATA_DIR", str(c.tmp / "good"))
    return [*argv, "--data-dir", str(d)]


def _recount(path: Path, n: int) -> Path:
    """The .asf with its point count changed to ``n`` (the points left as they are)."""
    lines = path.read_text(encoding="latin-1").splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.strip() and not ln.startswith("#"))
    lines[i] = str(n)
    path.write_text("\n".join(lines), encoding="latin-1")
    return path


def _poses(n=4, nan_at=None, scale_at=None) -> np.ndarray:
    c2ws = scene_arrays()["c2ws_train"][:1].repeat(n, 0)
    if nan_at is not None:
        c2ws[nan_at, 0, 3] = np.nan
    if scale_at is not None:
        c2ws[scale_at, :3, :3] *= 2.0
    return c2ws


def _scene_cmd(c: Ctx, **changes) -> list[str]:
    return ["train", "nerf", *SMOKE, "--scene", str(save_scene(c.tmp / "bad.npz", **changes)), "--out",
            str(c.tmp / "r")]


def _other_images() -> dict:
    a = scene_arrays(seed=1)
    return {"images_train": a["images_train"]}


def _check_16bit_scene(c: Ctx):
    imgs = np.full((4, 16, 16, 3), 32896, np.uint16)   # 128 * 257: middle grey in 16 bits
    scene = nerf_scene.load_scene(save_scene(c.tmp / "s16.npz", images_train=imgs))
    return lambda: scene.images.max().item() == pytest.approx(32896 / 65535)


def _check_non_square(c: Ctx):
    a = scene_arrays()
    imgs = np.zeros((4, 12, 16, 3), np.uint8)
    imgs[:, :, :8] = 255   # left half white
    scene = nerf_scene.load_scene(save_scene(c.tmp / "wide.npz", images_train=imgs,
                                             images_val=np.zeros((2, 12, 16, 3), np.uint8)))
    small = scene.resized(8)   # the longer side at 8: 6 x 8, not squashed into 8 x 8
    return lambda: (small.H, small.W) == (6, 8) and small.focal == pytest.approx(a["focal"] / 2) \
        and small.images[0, :, :4].min() == 1.0 and small.images[0, :, 4:].max() == 0.0


def _check_generated_cache(c: Ctx):
    """No lego found: the generated scene (made small here) is cached under --out, not the runs/ folder."""
    _data_dir(c)
    real = nerf_scene.generate_scene
    c.monkeypatch.setattr(nerf_scene, "generate_scene",
                          lambda path, size: real(path, size=8, n_train=3, n_val=1, n_test=1))
    runs = config.runs_dir("scenes")
    before = set(runs.rglob("generated_*.npz")) if runs.is_dir() else set()
    out = c.tmp / "gen_run"
    assert cli.main(["train", "nerf", *SMOKE, "--steps", "1", "--image-size", "8", "--out", str(out)]) == 0
    after = set(runs.rglob("generated_*.npz")) if runs.is_dir() else set()
    return lambda: (out / "generated_200.npz").is_file() and after == before


def _check_16bit_png(c: Ctx):
    grey = np.full((4, 6), 32896, np.uint16)   # 128 * 257
    Image.fromarray(grey).save(c.tmp / "g16.png")
    with Image.open(c.tmp / "g16.png") as im:
        assert im.mode.startswith("I")          # PIL's own convert("RGB") gives 255 here (white)
    img = data.read_image(c.tmp / "g16.png")
    return lambda: img.shape == (4, 6, 3) and img.dtype == np.uint8 and np.all(img == 128)


def _bomb(c: Ctx) -> list[str]:
    c.monkeypatch.setattr(readers, "MAX_PIXELS", 1_000_000)   # the limit read_image (cs180utils.readers) applies
    Image.new("L", (1200, 1000)).save(c.tmp / "bomb.png")
    return ["train", "field2d", *SMOKE, "--image", str(c.tmp / "bomb.png"), "--out", str(c.tmp / "r")]


def _truncated_jpg(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / "cut.jpg")
    return _truncate(folder / "cut.jpg", 0.3)


def _imm_truncated(c: Ctx) -> list[str]:
    """Generated IMM faces (12 people x 2 photos) with one photo cut short."""
    return _imm_cmd(c, lambda folder: _truncate(folder / "01_02.jpg", 0.5))


def _imm_cmd(c: Ctx, spoil: Callable[[Path], object]) -> list[str]:
    """``train nose`` on generated IMM faces (12 people x 2 photos) after ``spoil(folder)``."""
    from cs180utils.machinery.keypoints.synthetic import write_imm_folder
    folder = c.tmp / "imm"
    write_imm_folder(folder, layout="frontal73", n_people=12, per_person=2, size=(60, 80))
    spoil(folder)
    return ["train", "nose", *SMOKE, "--imm-dir", str(folder), "--epochs", "1", "--out", str(c.tmp / "r")]


def _xml_cmd(c: Ctx, **kw) -> list[str]:
    bad = face_xml(c.tmp / "xml", **kw)
    good = face_xml(c.tmp / "xml", name="good.xml")
    return ["train", "resnet", *SMOKE, "--train-xml", str(bad), "--val-xml", str(good), "--out", str(c.tmp / "r")]


def _check_partless(c: Ctx):
    faces = ibug.read_dlib_xml(face_xml(c.tmp, extra_box="<box top='1' left='2' width='20' height='20'/>"))
    labelled = [f for f in faces if np.isfinite(f.keypoints).all()]
    return lambda: len(labelled) == 1 and labelled[0].box == (10.0, 10.0, 40.0, 40.0)


def _eval(c: Ctx, checkpoint: Path) -> list[str]:
    return ["eval", "nerf", "--checkpoint", str(checkpoint), "--scene", str(c.trained.scene)]


def _nan_weights(run: Path) -> Path:
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    first = next(iter(state["model"]))
    state["model"][first] = state["model"][first] * float("nan")
    torch.save(state, run / "checkpoint.pt")
    return run / "checkpoint.pt"


def _drop_weight(run: Path) -> Path:
    """The run's checkpoint without the last weight of its model (as an edited or older checkpoint would be)."""
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    state["model"].pop(list(state["model"])[-1])
    torch.save(state, run / "checkpoint.pt")
    return run / "checkpoint.pt"


def _with(c: Ctx, loss, argv: list[str]) -> list[str]:
    c.monkeypatch.setattr(nerf_experiment, "ray_batch_loss", loss)
    return argv


def _interrupt(c: Ctx, how, *more: str, new: bool = False) -> list[str]:
    def stop(step):
        if step == 2:
            if how == "SIGTERM":
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(10)   # the handler raises here
            raise how()
    c.loss_does(stop)
    return c.nerf(*more, run=c.tmp / "new" if new else None)


def _disk_full(c: Ctx) -> list[str]:
    from cs180utils.machinery import checkpoint

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")
    c.monkeypatch.setattr(checkpoint.torch, "save", no_space)
    return c.nerf("--steps", "4")


def _video_disk_full(c: Ctx) -> list[str]:
    """``render nerf`` into a folder holding an earlier video, ffmpeg stopping at the second frame as on a full
    disk: imageio-ffmpeg's OSError ("Broken pipe" and the ffmpeg command), the files it made left behind."""
    from cs180utils.machinery.nerf import video

    class Stops:
        def __init__(self, path, **kwargs):
            self.path, self.frames = Path(path), 0
            self.path.write_bytes(b"")          # ffmpeg has created its file
        def append_data(self, frame):
            self.frames += 1
            if self.frames == 2:
                raise OSError(f"[Errno 32] Broken pipe\n\nFFMPEG COMMAND:\nffmpeg -y -f rawvideo -i - {self.path}"
                              f"\n\nFFMPEG STDERR OUTPUT:\n")
        def close(self):
            pass
    c.monkeypatch.setattr(video.imageio, "get_writer", Stops)
    _file(c.tmp / "video" / "novel_views.mp4", b"an earlier video")
    return ["render", "nerf", "--checkpoint", str(c.trained.nerf / "checkpoint.pt"), "--scene", str(c.trained.scene),
            "--device", "cpu", "--video-size", "16", "--frames", "3", "--out", str(c.tmp / "video")]


def _fake(c: Ctx, body: Callable[[], object], *more: str) -> list[str]:
    """A ``train fake`` command whose run() returns ``body()``."""
    mod = types.ModuleType("cs180utils_test_faults_cmd")
    mod.add_arguments = lambda parser, command: None
    mod.run = lambda args, command: body()
    c.monkeypatch.setitem(sys.modules, mod.__name__, mod)
    c.monkeypatch.setitem(cli.COMMANDS, "train", {**cli.COMMANDS["train"], "fake": (mod.__name__, "a fake")})
    return ["train", "fake", *more]


# ---- the harness -------------------------------------------------------------------------------------------------

def _snapshot(*roots: Path) -> dict[Path, str]:
    return {p: hashlib.sha1(p.read_bytes()).hexdigest() for r in roots if r.exists() for p in r.rglob("*")
            if p.is_file()}


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_fault(row: Row, trained, tmp_path, monkeypatch, capsys):
    if row.id == "--out not writable" and not Path("/proc/self").is_dir():
        pytest.skip("needs Linux's /proc (a folder nobody, root included, can write in)")
    if row.id == "CUDA asked, none here" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    monkeypatch.setenv("CS180_OFFLINE", "1")
    ctx = Ctx(tmp_path, trained, monkeypatch)
    try:
        _run_row(row, ctx, trained, tmp_path, capsys)
    finally:
        for cleanup in ctx.cleanups:
            cleanup()


def _run_row(row: Row, ctx: Ctx, trained, tmp_path: Path, capsys) -> None:
    made = row.make(ctx)
    capsys.readouterr()
    before = _snapshot(tmp_path, trained.root)
    if callable(made):                                       # a reader row
        if isinstance(row.rc, type):
            with pytest.raises(row.rc, match=row.err):
                made()
        else:
            assert made()
    else:
        try:
            rc = cli.main(made)
        except SystemExit as exc:                            # argparse: a bad option, before any work
            rc = exc.code
        out, err = capsys.readouterr()
        assert rc == row.rc, err
        assert re.search(row.err, err, flags=re.M), err
        if rc == 1:   # the failure is the last line, one line; a traceback only with --debug
            assert err.splitlines()[-1].startswith("error: "), err
            assert ("Traceback" in err) == ("--debug" in made), err
        if rc == 0 and made[0] in ("train", "eval", "render"):
            last = out.strip().splitlines()[-1]
            json.loads(last, parse_constant=lambda c: pytest.fail(f"{c} in the JSON line: {last}"))  # strict JSON
        if row.id == "NaN in a result: strict JSON":
            assert json.loads(out.strip().splitlines()[-1]) == {"psnr": None}
    after = _snapshot(tmp_path, trained.root)
    if row.disk is not None:
        assert row.disk(ctx), f"on disk after {row.id!r}: {sorted(str(p) for p in tmp_path.rglob('*'))}"
    # a run folder's lock file is the training's, not the user's: a stale one is removed by the next training
    lost = {p for p in before if (p not in after or after[p] != before[p]) and p.name != training.LOCK}
    assert not lost, f"changed or lost: {sorted(map(str, lost))}"
    assert not [p for p in after if p.name.endswith(".tmp")], "a temporary file was left behind"
