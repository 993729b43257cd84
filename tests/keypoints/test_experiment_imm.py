import cv2
import numpy as np
import pytest
import torch
from torch import nn

from cs180utils.machinery import settings, training
from cs180utils.machinery.keypoints import experiment_imm as ex
from cs180utils.keypoints import steps
from cs180utils.keypoints.asf import write_asf
from cs180utils.keypoints.augment import identity_augment
from cs180utils.keypoints.heatmaps import argmax_coords
from cs180utils.keypoints.imm import ImmFaces, read_imm_folder
from cs180utils.keypoints.imm import zoom_frames as imm_zoom_frames
from cs180utils.machinery.keypoints.synthetic import write_imm_folder
from cs180utils.machinery.settings import UNSET


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    return read_imm_folder(write_imm_folder(tmp_path_factory.mktemp("imm"), "frontal73", n_people=12,
                                            per_person=2, size=(60, 80)))



# ---- presets and overrides ------------------------------------------------------------------------------------

def test_presets_per_task_and_profile():
    nose, kp = ex.config("nose", "cpu"), ex.config("keypoints", "full")
    assert (nose.task, nose.size, nose.epochs, nose.batch_size, nose.channels) == ("nose", (60, 80), 100, 8,
                                                                                 (12, 16, 24, 32))
    assert (kp.task, kp.size, kp.epochs, kp.batch_size, kp.dropout, kp.tta_flip) == ("keypoints", (120, 160), 80,
                                                                                   32, 0.3, True)
    assert ex.config("keypoints", "cpu").batch_size == 8 and ex.config("nose", "smoke").epochs == 2
    assert nose.lr_min_factor == 0.05 and nose.hflip == 0.5 and nose.max_seconds is None and nose.zoom is None
    assert {(ex.config("keypoints", p).zoom, ex.config("keypoints", p).zoom_scale) for p in ("smoke", "cpu", "full")} \
        == {(0.6, (0.8, 1.25))}


def test_overrides_win_and_unset_keeps_the_preset():
    cfg = ex.config("nose", "cpu", epochs=5, lr=UNSET, sigmoid=False, max_seconds=None)
    assert cfg.epochs == 5 and cfg.lr == 1e-3 and cfg.sigmoid is False and cfg.max_seconds is None
    assert settings.replace(cfg, batch_size=UNSET) == cfg
    with pytest.raises(ValueError, match="unknown ImmConfig settings.*epoch"):
        ex.config("nose", "cpu", epoch=5)
    with pytest.raises(ValueError, match="unknown task 'mouth'"):
        ex.config("mouth")
    with pytest.raises(ValueError, match="unknown loss"):
        ex.config("nose", "cpu", loss="huber")


def test_config_round_trips_through_json():
    cfg = ex.config("keypoints", "cpu", scale=(0.9, 1.1))
    assert settings.from_dict(ex.ImmConfig, settings.config_dict(cfg)) == cfg


# ---- the pixel convention --------------------------------------------------------------------------------------

class Brightest(nn.Module):
    """A stand-in network that answers the centre of the brightest pixel, as the CNN does: (x, y) / (W, H)."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(()))

    def forward(self, x):                                       # (B, 1, H, W) -> (B, 1, 2) in [0, 1]
        h, w = x.shape[-2:]
        return argmax_coords(x) / torch.tensor([w, h]) + 0 * self.unused   # the brightest pixel's centre


def test_a_keypoint_on_a_known_pixel_survives_dataset_augmentation_and_prediction(tmp_path):
    # original 160x120 images with a 2x2 bright block at rows 2i..2i+1, columns 2j..2j+1: after the area
    # resize to the 80x60 input it is the one pixel (i, j), whose centre is (j + 0.5, i + 0.5)
    rng = np.random.default_rng(0)
    cells = [(10, 20), (33, 57), (0, 79)]                       # (row i, column j) of the 60x80 input
    for n, (i, j) in enumerate(cells, start=1):
        img = np.zeros((120, 160), np.uint8)
        img[2 * i:2 * i + 2, 2 * j:2 * j + 2] = 255
        cv2.imwrite(str(tmp_path / f"01_{n:02d}.png"), img)
        pts = rng.uniform(0.1, 0.9, (73, 2))
        pts[45] = [(2 * j + 1) / 160, (2 * i + 1) / 120]        # the nose tip: the block's centre, relative
        write_asf(tmp_path / f"01_{n:02d}.asf", pts, f"01_{n:02d}.png")
    recs = read_imm_folder(tmp_path)
    centres = torch.tensor([[[j + 0.5, i + 0.5]] for i, j in cells])            # (3, 1, 2)

    ds = ImmFaces(recs, size=(60, 80), points="nose", augment=identity_augment())
    for n in range(len(cells)):
        img, kp = ds[n]
        i, j = divmod(int(img.flatten().argmax()), 80)
        assert (i, j) == cells[n]
        torch.testing.assert_close(kp, centres[n], atol=1e-4, rtol=0)          # dataset + identity augment
    torch.testing.assert_close(ds.to_original(ds.keypoints), torch.tensor(np.stack([r.points_px[[45]] for r in recs]),
                                                                          dtype=torch.float32))

    cfg = ex.config("nose", "smoke")
    model = Brightest()
    for flip in (False, True):                                  # the mirror average lands on the same pixel
        torch.testing.assert_close(ex.predict(model, ds.images, cfg, tta_flip=flip), centres, atol=1e-5, rtol=0)
    assert ex.evaluate(model, ds, cfg) == pytest.approx({"val_loss": 0.0, "val_nme": 0.0}, abs=1e-6)


def test_predict_batches_and_keeps_the_order():
    cfg = ex.config("nose", "smoke")
    images = torch.full((70, 1, 60, 80), -0.5)
    for n in range(70):
        images[n, 0, n % 60, n] = 0.5
    out = ex.predict(Brightest(), images, cfg)                  # more than one batch of EVAL_BATCH
    assert out.shape == (70, 1, 2)
    torch.testing.assert_close(out[:, 0], torch.stack([torch.arange(70) + 0.5, torch.arange(70) % 60 + 0.5], 1))


# ---- training ---------------------------------------------------------------------------------------------------

def _cfg(**kw):
    return ex.config("nose", "smoke", batch_size=5, lr=3e-3, lr_min_factor=1.0, **kw)


def test_training_lowers_the_loss_and_writes_one_run_folder(records, tmp_path, monkeypatch, one_thread):
    monkeypatch.setenv("CS180_RUNS_DIR", str(tmp_path))
    cfg = _cfg(epochs=3)
    run = ex.train(cfg, records, progress=False)
    folder = training.run_dir("imm", "nose", cfg, data="frontal73:24")
    assert folder.parent == tmp_path / "imm" and folder.name.startswith("nose-")
    assert run.summary["checkpoint"] == str(folder / training.CHECKPOINT)
    assert sorted(p.name for p in folder.iterdir()) == [training.CHECKPOINT, training.RESULT]
    h = run.history
    assert h["epoch"] == [1, 2, 3] and run.summary["steps"] == 12 and run.summary["epochs"] == 3   # 20 faces / 5
    assert h["train_loss"][-1] < h["train_loss"][0] and np.isfinite(h["val_nme"]).all()
    assert run.summary["n_train"] == 20 and run.summary["n_val"] == 4 and run.summary["baseline_nme"] > 0
    assert run.val_pred.shape == (4, 1, 2) and run.val_nme_per_image.shape == (4,)


def test_training_calls_the_course_step_for_every_batch(records, monkeypatch, one_thread):
    """The loop's loss is the course's regression_step (steps.py, what notebooks 05-06 show), once per batch."""
    real, calls = steps.regression_step, []

    def spy(model, images, keypoints, size, loss="mse"):
        out = real(model, images, keypoints, size, loss)
        calls.append((images.shape, keypoints.shape, tuple(size.tolist()), loss, out.item()))
        return out

    monkeypatch.setattr(steps, "regression_step", spy)
    run = ex.train(_cfg(epochs=2, loss="l1"), records, out=None, progress=False)
    assert len(calls) == run.summary["steps"] == 8                                     # 20 faces / 5, 2 epochs
    assert {c[:4] for c in calls} == {((5, 1, 60, 80), (5, 1, 2), (80.0, 60.0), "l1")}  # size (W, H)
    assert run.history["train_loss"] == pytest.approx([np.mean([c[4] for c in calls[:4]]),
                                                       np.mean([c[4] for c in calls[4:]])])


def test_resumed_run_equals_uninterrupted_one(records, tmp_path, one_thread):
    straight = ex.train(_cfg(epochs=2), records, out=tmp_path / "straight", progress=False)
    first = ex.train(_cfg(epochs=1), records, out=tmp_path / "resumed", progress=False)
    assert first.summary["epochs"] == 1
    resumed = ex.train(_cfg(epochs=2), records, out=tmp_path / "resumed", progress=False)
    assert resumed.summary["resumed_from_step"] == 4 and resumed.summary["epochs"] == 2
    assert resumed.history["val_loss"] == pytest.approx(straight.history["val_loss"], rel=1e-5)
    assert resumed.summary["val_nme"] == pytest.approx(straight.summary["val_nme"], abs=1e-3)
    again = ex.train(_cfg(epochs=2), records, out=tmp_path / "resumed", progress=False)   # finished: reused
    assert again.summary["resumed_from_step"] == 8 and again.history == resumed.history
    with pytest.raises(training.IncompatibleCheckpoint, match=r"sigmoid: True \(saved\) vs False \(now\)"):
        ex.train(_cfg(epochs=2, sigmoid=False), records, out=tmp_path / "resumed", progress=False)
    fresh = ex.train(_cfg(epochs=1, sigmoid=False), records, out=tmp_path / "resumed", resume=False,
                     progress=False)
    assert fresh.summary["resumed_from_step"] == 0


def test_flip_averaged_keypoints_run(records, one_thread):
    cfg = ex.config("keypoints", "smoke", size=(60, 80), channels=(4, 8), kernels=(3, 3), hidden=16, epochs=1,
                    batch_size=10, zoom=None)
    run = ex.train(cfg, records, out=None, progress=False)
    assert run.val_pred.shape == (4, 73, 2) and run.summary["checkpoint"] is None and run.zoom_model is None
    assert {"val_nme", "val_nme_single", "baseline_nme", "val_mae_px"} <= set(run.summary)
    assert "val_nme_first" not in run.summary


def test_zoom_stage_trains_on_crops_and_is_kept_beside_the_first(records, tmp_path, one_thread):
    cfg = ex.config("keypoints", "smoke", size=(60, 80), channels=(4, 8), kernels=(3, 3), hidden=16, epochs=2,
                    batch_size=10, zoom=0.6)
    run = ex.train(cfg, records, out=tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([training.CHECKPOINT, training.RESULT,
                                                                 ex.ZOOM_CHECKPOINT])
    s = run.summary
    assert {"val_nme", "val_nme_first", "zoom_epochs", "zoom_train_seconds"} <= set(s) and s["zoom_epochs"] == 2
    assert s["val_nme"] != s["val_nme_first"] and run.zoom_history["epoch"] == [1, 2]
    # the second stage sees the validation faces framed around the first stage's points: their box is 0.6 wide
    first = run.val_set.to_original(ex.predict(run.model, run.val_set.images, cfg, ex.flip_perm(run.train_set)))
    np.testing.assert_array_equal(run.zoom_val_set.frames, imm_zoom_frames(first, 0.6, (60, 80)))
    torch.testing.assert_close(run.zoom_val_set.to_original(run.zoom_val_set.keypoints), run.val_true)
    # predicting any faces goes through both stages as the score did
    val_records = run.val_set.records
    torch.testing.assert_close(run.predict_records(val_records), run.val_pred, atol=1e-4, rtol=0)
    again = ex.train(cfg, records, out=tmp_path, progress=False)               # finished: both stages reused
    assert again.summary["val_nme"] == s["val_nme"] and again.zoom_history == run.zoom_history
    with pytest.raises(ValueError, match="zoom needs the keypoints task"):
        ex.config("nose", "smoke", zoom=0.6)
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        ex.config("keypoints", "smoke", zoom=0.0)


@pytest.mark.parametrize("notebook,task,names", [
    ("05_nose_tip_cnn", "nose", {"EPOCHS": "epochs", "BATCH_SIZE": "batch_size", "LR": "lr", "SIZE": "size",
                                 "NO_SIGMOID_EPOCHS": "epochs", "SEED": "seed"}),
    ("06_all_keypoints_augmentation", "keypoints", {"EPOCHS": "epochs", "BATCH_SIZE": "batch_size", "LR": "lr",
                                                    "SIZE": "size", "ROTATION": "rotation", "SHIFT_PX": "shift_px",
                                                    "BRIGHTNESS": "brightness", "NO_AUGMENT_EPOCHS": "epochs",
                                                    "ZOOM": "zoom", "SEED": "seed"})])
@pytest.mark.parametrize("profile", ["smoke", "cpu", "full"])
def test_notebook_parameters_are_the_presets(notebook, task, names, profile, monkeypatch, capsys):
    import json
    from pathlib import Path

    from cs180utils.machinery import config
    monkeypatch.setenv("CS180_PROFILE", profile)
    nb = json.loads((Path(__file__).resolve().parents[2] / "notebooks" / f"{notebook}.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    ns = {"config": config}
    exec("".join(cell["source"]), ns)
    preset = ex.config(task, profile)
    assert {name: ns[name] for name in names} == {name: getattr(preset, f) for name, f in names.items()}


# ---- the course's plain nose network and its tuning ------------------------------------------------------------

@pytest.mark.parametrize("profile", ["smoke", "cpu", "full"])
def test_course_nose_is_plain_over_any_profile(profile, records, monkeypatch):
    monkeypatch.delenv("CS180_PRESET", raising=False)
    course, here = ex.config("nose", profile, preset="course"), ex.config("nose", profile)
    assert (course.batch_norm, course.augment, course.hflip, course.dropout, course.tta_flip) == (
        False, False, 0.0, 0.0, False)
    assert (course.lr, course.lr_min_factor, course.channels, course.kernels, course.hidden, course.sigmoid) == (
        1e-3, 1.0, (12, 16, 24, 32), (5, 5, 3, 3), 128, True)
    assert (course.epochs, course.batch_size) == (here.epochs, here.batch_size)     # how long: the profile's
    model = ex.build_model(course, 1)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert ex.make_datasets(course, records)[0].augment is None
    rows = ex.course_deviations(here, profile)
    assert {k for k, *_ in rows} == {"augment", "hflip", "batch_norm", "lr_min_factor"}
    assert all(why != "no reason recorded" for *_, why in rows) and ex.course_deviations(course, profile) == []
    with pytest.raises(ValueError, match="no preset 'course'"):
        ex.config("keypoints", profile, preset="course")


def test_sweep_one_knob_at_a_time_or_the_whole_grid():
    base = ex.config("nose", "cpu", preset="course")
    cpu = ex.sweep(base, "cpu")
    assert list(cpu) == ["layers 4, width 1, lr 1e-03", "layers 3, width 1, lr 1e-03", "layers 5, width 1, lr 1e-03",
                         "layers 4, width 0.5, lr 1e-03", "layers 4, width 2, lr 1e-03", "layers 4, width 1, lr 3e-04",
                         "layers 4, width 1, lr 3e-03"]
    assert cpu["layers 4, width 1, lr 1e-03"] == base
    assert cpu["layers 5, width 1, lr 1e-03"].channels == (12, 16, 24, 32, 48)
    assert cpu["layers 4, width 2, lr 1e-03"].channels == (24, 32, 48, 64)
    assert cpu["layers 4, width 1, lr 3e-04"].lr == 3e-4
    assert all(c.batch_norm is False and c.augment is False and c.epochs == base.epochs for c in cpu.values())
    full = ex.sweep(ex.config("nose", "full", preset="course"), "full")
    assert len(full) == 27 and len({(c.channels, c.lr) for c in full.values()}) == 27
    assert len(ex.sweep(ex.config("nose", "smoke", preset="course"), "smoke")) == 3


def test_sweep_runs_train_and_score(records, tmp_path, one_thread):
    base = ex.config("nose", "smoke", preset="course", epochs=1, batch_size=8)
    runs = {label: ex.train(cfg, records, out=tmp_path / str(i), progress=False)
            for i, (label, cfg) in enumerate(ex.sweep(base, "smoke").items())}
    assert len(runs) == 3 and all(np.isfinite(r.summary["val_nme"]) for r in runs.values())
    assert len({r.summary["val_nme"] for r in runs.values()}) == 3          # three different networks


@pytest.mark.parametrize("profile", ["smoke", "cpu", "full"])
def test_notebook_05_trains_the_course_network_and_the_profiles_sweep(profile, monkeypatch, capsys):
    import json
    from pathlib import Path

    from cs180utils.machinery import config
    monkeypatch.setenv("CS180_PROFILE", profile)
    monkeypatch.delenv("CS180_PRESET", raising=False)
    nb = json.loads((Path(__file__).resolve().parents[2] / "notebooks" / "05_nose_tip_cnn.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    ns = {"config": config}
    exec("".join(cell["source"]), ns)
    assert ns["PRESET"] is None and ns["EXP"] == ex.config("nose", profile)
    assert ns["COURSE"] == ex.config("nose", profile, preset="course") and ns["SWEEP"] == ex.sweep(ns["COURSE"], profile)
    monkeypatch.setenv("CS180_PRESET", "course")           # the preset picked from the environment
    exec("".join(cell["source"]), ns)
    assert ns["PRESET"] == "course" and ns["EXP"] == ns["COURSE"]
