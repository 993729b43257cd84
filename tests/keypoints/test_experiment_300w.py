"""The 300-W experiment on generated faces written as dlib XML: presets, training, resume, run folders, read-outs."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cs180utils.machinery import cli
from cs180utils.machinery import config as cfg_mod
from cs180utils.machinery import training
from cs180utils.machinery.keypoints import experiment_300w as exp
from cs180utils.machinery.keypoints import cli_300w, synthetic
from cs180utils.keypoints import heatmaps as hm
from cs180utils.keypoints import ibug, steps
from cs180utils.machinery.settings import UNSET

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture(scope="module")
def xmls(tmp_path_factory):
    return synthetic.write_300w_folder(tmp_path_factory.mktemp("gen300w"), n_train=24, n_val=8, size=96)


def test_presets_per_profile_and_overrides():
    assert exp.config("resnet", "cpu").max_seconds == 1100 and exp.config("unet", "cpu").max_seconds == 900
    assert exp.config("unet", "full").max_seconds is None and exp.config("unet", "full").widths == (32, 64, 128, 256)
    smoke = exp.config("unet-binary", "smoke")
    assert (smoke.model, smoke.target, smoke.crop_size, smoke.epochs, smoke.name) == ("unet", "binary", 64, 2,
                                                                                      "unet-binary")
    assert exp.config("unet", "cpu") == dataclasses.replace(exp.config("unet-binary", "cpu"), target="gaussian")
    # None is a value (no cap, whole map); UNSET keeps the preset
    cfg = exp.config("unet", "cpu", max_seconds=None, window=None, sigma=UNSET)
    assert (cfg.max_seconds, cfg.window, cfg.sigma) == (None, None, 1.5)
    with pytest.raises(ValueError, match="settings are"):
        exp.config("unet", "cpu", size=64)
    with pytest.raises(ValueError, match="resnet, unet, unet-binary"):
        exp.config("vgg")
    with pytest.raises(ValueError, match="unknown loss"):
        exp.config("unet", loss="l2")


def _parameters(notebook: str, profile: str, monkeypatch) -> dict:
    """The namespace of a notebook's parameters cell, run in ``profile``."""
    monkeypatch.setenv("CS180_PROFILE", profile)
    nb = json.loads((NOTEBOOKS / notebook).read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    ns = {"config": cfg_mod}
    exec("".join(cell["source"]), ns)
    return ns


@pytest.mark.parametrize("profile", ["smoke", "cpu", "full"])
def test_notebook_parameters_are_the_presets(profile, monkeypatch):
    """07-09 build their configurations from the presets (only the time budget differs), and 09's Gaussian
    model is 08's, so 09 reuses 08's run folder."""
    nb07 = _parameters("07_resnet18_300w.ipynb", profile, monkeypatch)["CFG"]
    assert nb07 == dataclasses.replace(exp.config("resnet", profile), max_seconds=nb07.max_seconds)
    nb08 = _parameters("08_unet_gaussian_heatmaps.ipynb", profile, monkeypatch)["CFG"]
    nb09 = _parameters("09_unet_binary_heatmaps.ipynb", profile, monkeypatch)
    assert nb08 == dataclasses.replace(exp.config("unet", profile), max_seconds=nb08.max_seconds)
    assert nb09["GAUSS"] == nb08 and nb09["BINARY"] == dataclasses.replace(nb08, target="binary")


@pytest.mark.parametrize("command", ["resnet", "unet", "unet-binary"])
def test_a_few_steps_lower_the_loss(xmls, command):
    cfg = exp.config(command, "smoke", crop_size=32, widths=(8, 16))
    data = exp.load_data(cfg, train_xml=xmls[0], val_xml=xmls[1])
    torch.manual_seed(0)
    model = exp.build_model(cfg, exp.mean_shape(data.train))
    x, k = ibug.to_float(data.train.images[:8]), data.train.keypoints[:8]
    opt = torch.optim.Adam(model.parameters(), 1e-4 if command == "resnet" else 1e-2)
    losses = []
    for _ in range(20):
        loss = exp.step_loss(model, cfg, x, k)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]


@pytest.mark.parametrize("command, course_step", [("resnet", "regression_step"), ("unet", "heatmap_step"),
                                                  ("unet-binary", "heatmap_step")])
def test_training_calls_the_course_step_for_every_batch(xmls, tmp_path, monkeypatch, command, course_step):
    """The loop's loss is the course's step (keypoints/steps.py, what notebooks 07-09 show), once per batch, with
    the experiment's loss: L1 on crop units for the ResNet, the heatmap loss of cfg.target / cfg.sigma for U-Nets."""
    cfg = exp.config(command, "smoke", crop_size=32, widths=(8, 16), epochs=2, batch_size=8, tta_flip=False)
    data = exp.load_data(cfg, train_xml=xmls[0], val_xml=xmls[1])
    real, calls = getattr(steps, course_step), []

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append((args[1].shape, args[2].shape, args[3:], kwargs, out.item()))
        return out

    monkeypatch.setattr(steps, course_step, spy)
    res = exp.train(cfg, data, out=tmp_path, progress=False)
    assert len(calls) == res.result["steps"] == 6                                  # 24 faces / 8, 2 epochs
    assert {c[:2] for c in calls} == {((8, 1, 32, 32), (8, 68, 2))}
    how = {"resnet": ((32,), {"loss": "l1"}), "unet": (("gaussian", 2.0, "ce"), {}),
           "unet-binary": (("binary", 2.0, "ce"), {})}[command]
    assert {(c[2], tuple(c[3].items())) for c in calls} == {(how[0], tuple(how[1].items()))}
    assert [r["loss"] for r in res.history["train"]] == pytest.approx([np.mean([c[4] for c in calls[:3]]),
                                                                     np.mean([c[4] for c in calls[3:]])])


def test_recipe_states_the_optimizer_schedule_and_augmentation_that_train_uses(xmls, tmp_path, monkeypatch):
    cfg = exp.config("resnet", "smoke", crop_size=32, epochs=2, batch_size=8, lr=3e-3, rotation=7.0, hflip=0.5,
                     max_seconds=100.0)
    text = exp.recipe(cfg)
    assert text["optimizer"] == "AdamW, learning rate 0.003 at its peak, weight decay 0.0001"
    assert "warm-up from 0.05 × the learning rate over the first 10% of the run" in text["schedule"]
    assert text["schedule"].endswith("over 2 epochs or 100 s of training, whichever comes first (the schedule "
                                     "follows the larger fraction done)")
    assert text["augmentation"] == ("rotation ±7°, shift ±1.92 px (6% of the crop), zoom 0.9 to 1.1, "
                                    "brightness × (1 ± 0.3), a mirror image 50% of the time")
    assert "regression_step" in text["step"] and "L1" in text["step"]
    assert "binary targets, cross-entropy" in exp.recipe(exp.config("unet-binary", "cpu"))["step"]
    # the optimizer and the schedule named are the ones train builds and follows
    made, seen = [], []

    class Spy(exp.OPTIMIZER):
        def __init__(self, params, **kw):
            made.append(kw)
            super().__init__(params, **kw)

    monkeypatch.setattr(exp, "OPTIMIZER", Spy)
    monkeypatch.setattr(exp, "SCHEDULE", lambda progress: seen.append(progress) or training.OneCycle()(progress))
    data = exp.load_data(cfg, train_xml=xmls[0], val_xml=xmls[1])
    res = exp.train(cfg, data, out=tmp_path, progress=False)
    assert made == [{"lr": 3e-3, "weight_decay": 1e-4}] and len(seen) == res.result["steps"] == 6


def test_resume_after_interruption_equals_one_run(xmls, tmp_path, monkeypatch):
    cfg = exp.config("resnet", "smoke", crop_size=32, epochs=2, batch_size=8)
    data = exp.load_data(cfg, train_xml=xmls[0], val_xml=xmls[1])
    full = exp.train(cfg, data, out=tmp_path / "a", progress=False)
    # the same run, interrupted (Ctrl-C) right after its first epoch's checkpoint is written
    real_save = training.save_checkpoint

    def save_then_interrupt(path, state):
        real_save(path, state)
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "save_checkpoint", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        exp.train(cfg, data, out=tmp_path / "b", progress=False)
    monkeypatch.setattr(training, "save_checkpoint", real_save)
    state = torch.load(tmp_path / "b" / training.CHECKPOINT, weights_only=False)
    assert state["step"] == full.steps_per_epoch == 3 and not state["finished"]     # 24 faces / 8: 3 steps
    resumed = exp.train(cfg, data, out=tmp_path / "b", progress=False)
    assert resumed.result["val_nme"] == pytest.approx(full.result["val_nme"], rel=1e-5)
    assert resumed.curve("loss")[0] == [1.0, 2.0]


def test_run_dir_is_one_folder_per_configuration(xmls):
    cfg = exp.config("unet", "smoke")
    data = exp.load_data(dataclasses.replace(cfg, crop_size=32), train_xml=xmls[0], val_xml=xmls[1])
    same = exp.run_dir(dataclasses.replace(cfg), data)
    assert same == exp.run_dir(cfg, data) and same.name.startswith("unet-") and same.parent.name == "300w"
    assert exp.run_dir(dataclasses.replace(cfg, device="cpu"), data) == same            # where, not what
    assert exp.run_dir(dataclasses.replace(cfg, sigma=4.0), data) != same
    binary = exp.run_dir(dataclasses.replace(cfg, target="binary"), data)
    assert binary != same and binary.name.startswith("unet-binary-")
    assert data.fingerprint() == {"source": "dlib XML", "train": str(xmls[0]), "val": str(xmls[1]), "n_train": 24,
                                  "n_val": 8}


def test_unet_result_reports_every_read_out(xmls, tmp_path):
    cfg = exp.config("unet", "smoke", crop_size=32, widths=(8, 16), epochs=1)
    data = exp.load_data(cfg, train_xml=xmls[0], val_xml=xmls[1])
    res = exp.train(cfg, data, out=tmp_path, progress=False)
    r = res.result
    assert r["window"] == 4 and {"val_nme", "val_nme_global", "val_nme_argmax"} <= set(r)
    assert all(np.isfinite(r[k]) for k in ("val_nme", "val_nme_global", "val_nme_argmax"))
    # the one-pass validation equals evaluate() with each read-out
    assert exp.evaluate(res.model, cfg, data.val, res.mean_shape)["nme"] == pytest.approx(r["val_nme"], rel=1e-6)
    assert exp.evaluate(res.model, cfg, data.val, res.mean_shape, "argmax")["nme"] == pytest.approx(
        r["val_nme_argmax"], rel=1e-6)
    assert exp.evaluate(res.model, dataclasses.replace(cfg, window=None), data.val, res.mean_shape)["nme"] == \
        pytest.approx(r["val_nme_global"], rel=1e-6)
    assert json.loads((tmp_path / training.RESULT).read_text())["val_nme"] == pytest.approx(r["val_nme"])
    model, saved, mean = exp.load_model(tmp_path)                         # the run folder or its checkpoint
    assert saved == cfg and torch.equal(mean, res.mean_shape)
    # the mirror calibration travels with the weights: the loaded model scores what the run reported
    assert cfg.tta_flip and model.mirror_offsets == res.model.mirror_offsets and "val_nme_single" in r
    assert exp.evaluate(model, cfg, data.val, mean)["nme"] == pytest.approx(r["val_nme"], rel=1e-5)
    again = exp.train(cfg, data, out=tmp_path, progress=False)           # the finished run, loaded: the kept one
    assert again.model.mirror_offsets == res.model.mirror_offsets and again.result["val_nme"] == pytest.approx(r["val_nme"])


def test_load_model_refuses_other_checkpoints(tmp_path):
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a 300-W keypoint checkpoint"):
        exp.load_model(tmp_path / "other.pt")


def test_submission_csv(tmp_path):
    pred = np.arange(2 * 68 * 2, dtype=float).reshape(2, 68, 2)
    path = exp.write_submission(tmp_path / "s.csv", pred)
    lines = path.read_text().splitlines()
    assert lines[0] == "Id,Predicted" and len(lines) == 1 + 272
    assert lines[1 + 136 + 2 * 5 + 1] == f"{136 + 11},{pred[1, 5, 1]:.2f}"      # image 1, keypoint 5, y
    with pytest.raises(ValueError, match="N, K, 2"):
        exp.write_submission(tmp_path / "t.csv", pred[0])


def test_real_data_baseline(real_data_dir):
    cfg = exp.config("resnet", "smoke", crop_size=64, max_train=None, max_val=None)
    data = exp.load_data(cfg, data_dir=real_data_dir)
    assert data.source == "300-W" and len(data.train) == 705 and len(data.val) == 100
    assert data.fingerprint() == {"source": "300-W", "train": "labels_ibug_300W_train.xml",
                                  "val": "labels_ibug_300W_test.xml", "n_train": 705, "n_val": 100}
    model = exp.build_model(cfg, exp.mean_shape(data.train))               # untrained = mean shape
    r = exp.evaluate(model, cfg, data.val, exp.mean_shape(data.train))
    assert r["nme"] == pytest.approx(r["baseline_nme"], rel=1e-4)
    assert 17.0 < r["baseline_nme"] < 21.0                   # the mean shape in the face box: about 18.8 %


@pytest.mark.parametrize("command,overrides", [("resnet", dict(max_seconds=480)),
                                               ("unet", dict(max_seconds=None, sigma=3.0, widths=(8, 16), lr=0.002)),
                                               ("unet-binary", dict(window=None, epochs=3))])
def test_command_line_trains_the_notebooks_model(xmls, command, overrides):
    """The command a notebook prints parses back into the same configuration, hence the same run folder."""
    cfg = exp.config(command, "cpu", **overrides)
    data = exp.load_data(exp.config(command, "smoke"), train_xml=xmls[0], val_xml=xmls[1])
    line = exp.command_line(cfg, data, profile="cpu")
    words = line.split()
    assert words[:6] == ["python", "-m", "cs180utils", "train", command, "--profile"] and "--val-xml" in words
    parser, module = cli.build_parser("train", command)
    args = parser.parse_args(words[5:])
    again = cli_300w.config_from_args(args, f"train {command}")
    assert again == cfg and exp.run_dir(again, data) == exp.run_dir(cfg, data)
    assert exp.command_line(exp.config(command, "cpu"), profile="cpu") == f"python -m cs180utils train {command} --profile cpu"
    with pytest.raises(ValueError, match="sigma=3.0 has no option in `train resnet`"):
        exp.command_line(exp.config("resnet", "cpu", sigma=3.0), profile="cpu")   # a U-Net setting


def test_box_summary_of_tight_and_detector_like_boxes():
    kps = np.array([[10.0, 20.0], [110.0, 20.0], [60.0, 120.0]])         # tight box (10, 20, 100, 100)
    tight = [ibug.Face(Path("a.png"), (10.0, 20.0, 100.0, 100.0), kps)] * 3
    r = exp.box_summary(tight)
    assert (r["n"], r["tight"], r["width_ratio"], r["height_ratio"]) == (3, 1.0, 1.0, 1.0)
    assert "the tight box of the points" in r["text"]
    grown = [ibug.Face(Path("a.png"), (0.0, 0.0, 130.0, 150.0), kps)] * 2 + tight[:1]
    r = exp.box_summary(grown)
    assert r["tight"] == pytest.approx(1 / 3) and (r["width_ratio"], r["height_ratio"]) == (1.3, 1.5)
    assert "1.30 x the points' width and 1.50 x their height (median): not the tight box" in r["text"]


# ---- the mirror image: augmentation and the mirror-averaged prediction ------------------------------------------

F = list(ibug.FLIP_300W)


def _gaussian_logits(points: torch.Tensor, size: int) -> torch.Tensor:
    """(K, size, size) logits: the log of Gaussian heatmaps (sigma 2 px) peaking at ``points`` (K, 2)."""
    return torch.log(hm.gaussian_heatmaps(points[None], (size, size), 2.0).clamp_min(1e-30))[0]


def _symmetric_pixels(size: int) -> torch.Tensor:
    """(68, 2) crop pixels on pixel centres (size odd: the midline x = size / 2 is one too), its own mirror image
    (x -> size - x, points paired by FLIP_300W)."""
    g = torch.Generator().manual_seed(0)
    s = torch.randint(size // 4, 3 * size // 4, (68, 2), generator=g).float() + 0.5
    for i, j in enumerate(F):
        if i == j:
            s[i, 0] = size / 2                                         # the midline
        elif i < j:
            s[j] = torch.stack([size - s[i, 0], s[i, 1]])              # the partner: mirrored, same height
    return s


class ConstantOutput(torch.nn.Module):
    """A network that gives the same output for every image: (K, 2) crop units or (K, H, W) heatmap logits."""
    def __init__(self, out):
        super().__init__()
        self.out = torch.nn.Parameter(out, requires_grad=False)

    def forward(self, x):
        return self.out.expand(x.shape[0], *self.out.shape)


def test_mirror_averaging_cancels_a_sideways_bias():
    size = 63
    s = _symmetric_pixels(size)
    x = torch.zeros(2, 1, size, size)
    # regression: every point 1 px too far right; the mirror image's answer, mirrored back, is 1 px too far left
    cfg = exp.config("resnet", "smoke", crop_size=size, tta_flip=True)
    biased = ConstantOutput((s + torch.tensor([1.0, 0.0])) / size)
    torch.testing.assert_close(exp.predict(biased, cfg, x), s.expand(2, -1, -1), atol=1e-5, rtol=0)
    torch.testing.assert_close(exp.predict(biased, cfg, x, tta_flip=False), (s + torch.tensor([1.0, 0.0])).expand(
        2, -1, -1), atol=1e-5, rtol=0)
    # heatmaps: logits of a Gaussian 1 px right of each point; averaging the logits puts the peak on the point
    logits = _gaussian_logits(s + torch.tensor([1.0, 0.0]), size)
    cfg = exp.config("unet", "smoke", crop_size=size, tta_flip=True)
    got = exp.predict(ConstantOutput(logits), cfg, x)
    assert (got - s).abs().max() < 1e-3 and (exp.predict(ConstantOutput(logits), cfg, x, tta_flip=False)[..., 0]
                                            - s[:, 0]).mean() == pytest.approx(1.0, abs=1e-3)


def test_calibrated_mirror_average_keeps_labels_that_are_not_mirror_symmetric():
    """Labels 0.5 px right of a mirror-symmetric face: a network that learned them answers +0.5 on the face and,
    mirrored back, -0.5 on its mirror image. The plain average lands on the symmetric points, 0.5 px off the labels;
    the offsets measured on the training faces (direct 0, mirror -1 px in x) put it back on the labels."""
    size = 63
    s = _symmetric_pixels(size)
    labels = s + torch.tensor([0.5, 0.0])
    crops = ibug.FaceCrops(images=torch.zeros(3, 1, size, size, dtype=torch.uint8), keypoints=labels.expand(3, -1, -1),
                           transforms=np.tile([0.0, 0.0, 1.0], (3, 1)), faces=[], size=size, margin=0.2)
    x = torch.zeros(2, 1, size, size)
    cfg = exp.config("resnet", "smoke", crop_size=size, tta_flip=True)
    model = ConstantOutput(labels / size)
    torch.testing.assert_close(exp.predict(model, cfg, x), s.expand(2, -1, -1), atol=1e-5, rtol=0)  # uncorrected
    model.mirror_offsets = exp.mirror_offsets(model, cfg, crops)
    torch.testing.assert_close(torch.tensor(model.mirror_offsets[""]), torch.tensor([[0.0, 0.0], [-1.0, 0.0]]),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(exp.predict(model, cfg, x), labels.expand(2, -1, -1), atol=1e-5, rtol=0)
    # heatmaps: the same with Gaussian logits at the labels, for each read-out
    logits = _gaussian_logits(labels, size)
    cfg = exp.config("unet", "smoke", crop_size=size, tta_flip=True)
    model = ConstantOutput(logits)
    model.mirror_offsets = exp.mirror_offsets(model, cfg, crops)
    assert set(model.mirror_offsets) == {"", "_argmax", "_global"}
    assert (exp.predict(model, cfg, x) - labels).abs().max() < 1e-3
    assert (exp.predict(model, cfg, x, method="argmax") - labels).abs().max() < 0.5 + 1e-6   # argmax: a pixel centre


def test_mirror_augmentation_swaps_left_and_right_points():
    aug = exp.make_augment(exp.config("unet", "smoke", hflip=1.0, rotation=0.0, shift=0.0, scale=(1.0, 1.0),
                                      brightness=0.0))
    assert aug.cfg.flip_perm == ibug.FLIP_300W
    img = torch.linspace(-0.5, 0.5, 33).expand(1, 33, 33)                # brighter to the right
    kp = _symmetric_pixels(33) + torch.tensor([2.0, 0.0])                 # not symmetric any more
    img2, kp2 = aug(img, kp)
    torch.testing.assert_close(img2, img.flip(-1), atol=1e-6, rtol=0)
    mirrored = kp.clone()
    mirrored[:, 0] = 33 - kp[:, 0]
    torch.testing.assert_close(kp2, mirrored[F], atol=1e-5, rtol=0)       # the image-left eye is still point 36
    assert exp.make_augment(exp.config("unet", "smoke")).cfg.flip_perm is None


def test_unet_with_mirror_averaging_reports_both(xmls, tmp_path):
    cfg = exp.config("unet", "smoke", crop_size=32, widths=(8, 16), epochs=1, hflip=0.5, tta_flip=True)
    data = exp.load_data(cfg, train_xml=xmls[0], val_xml=xmls[1])
    r = exp.train(cfg, data, out=tmp_path, progress=False).result
    assert np.isfinite(r["val_nme_single"]) and r["val_nme_single"] != r["val_nme"]


def test_another_heatmap_network_is_one_entry_in_networks(xmls, tmp_path, monkeypatch):
    """A second heatmap network needs its module and a NETWORKS entry: the config accepts its name, and the
    training, the heatmap step, every read-out, the mirror averaging and the checkpoint follow ``heatmaps``."""
    class TinyHeatmaps(torch.nn.Module):     # (B, 1, S, S) -> (B, K, S, S) logits
        def __init__(self, k):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, k, 3, padding=1)

        def forward(self, x):
            return self.conv(x)

    monkeypatch.setitem(exp.NETWORKS, "tiny", exp.Network(True, lambda cfg, mean, k: TinyHeatmaps(k)))
    cfg = exp.config("unet", "smoke", model="tiny", crop_size=32, epochs=1)
    assert cfg.heatmaps and cfg.name == "tiny"
    data = exp.load_data(cfg, train_xml=xmls[0], val_xml=xmls[1])
    res = exp.train(cfg, data, out=tmp_path, progress=False)
    assert isinstance(res.model, TinyHeatmaps) and np.isfinite(res.result["val_nme_argmax"])
    model, saved, _ = exp.load_model(tmp_path)
    assert saved == cfg and isinstance(model, TinyHeatmaps)
    with pytest.raises(ValueError, match="unknown model 'hourglass'"):
        exp.config("unet", "smoke", model="hourglass")
