"""The capped full profile (CS180_CAPPED=1): sizes stay the full profile's, lengths are capped by name."""
from __future__ import annotations

import dataclasses

import pytest

from cs180utils.machinery import capped, settings


@dataclasses.dataclass
class Inner:
    occupancy_warmup: int = 128
    occupancy_every: int = 16
    resolution: int = 512


@dataclasses.dataclass
class Exp:
    steps: int = 10
    epochs: int = 100
    batch_size: int = 8
    image_size: int | None = None
    width: int = 256
    eval_every: int = 100
    val_views: int | None = None
    max_train: int | None = None
    max_val: int | None = 5
    max_seconds: float | None = None
    snapshot_steps: tuple[int, ...] | None = (0, 50)
    inner: Inner | None = None


PRESETS = {"smoke": dict(steps=3), "full": dict(steps=5000, epochs=60, batch_size=32, image_size=400, width=512,
                                                inner=Inner())}


@pytest.fixture
def cap_on(monkeypatch):
    monkeypatch.setenv(capped.ENV, "1")


def test_off_by_default(monkeypatch):
    monkeypatch.delenv(capped.ENV, raising=False)
    assert not capped.active()
    cfg = settings.make_config(Exp, PRESETS, "full")
    assert (cfg.steps, cfg.epochs, cfg.eval_every, cfg.inner.occupancy_warmup) == (5000, 60, 100, 128)
    monkeypatch.setenv(capped.ENV, "0")
    assert not capped.active()


def test_make_config_caps_lengths_and_keeps_sizes(cap_on):
    cfg = settings.make_config(Exp, PRESETS, "full")
    # lengths: a couple of steps, evaluations and checkpoints at every step, one validation view
    assert (cfg.steps, cfg.epochs, cfg.eval_every, cfg.val_views) == (2, 2, 2, 1)
    # data-set sizes: one batch of the full profile's batch size (None = "all" is capped too; 5 < 32 stays)
    assert (cfg.max_train, cfg.max_val) == (32, 5)
    # sizes as the full profile: batch, image size, width; non-counts untouched
    assert (cfg.batch_size, cfg.image_size, cfg.width) == (32, 400, 512)
    assert cfg.max_seconds is None and cfg.snapshot_steps == (0, 50)
    # nested configs are capped too, their sizes kept
    assert (cfg.inner.occupancy_warmup, cfg.inner.occupancy_every, cfg.inner.resolution) == (1, 1, 512)
    # the preset table itself is not modified
    assert PRESETS["full"]["inner"].occupancy_warmup == 128


def test_overrides_and_replace_are_capped_too(cap_on):
    cfg = settings.make_config(Exp, PRESETS, "full", steps=1000, width=64)
    assert (cfg.steps, cfg.width) == (2, 64)
    again = settings.replace(cfg, steps=300, epochs=1)
    assert (again.steps, again.epochs) == (2, 1)   # below the cap stays


def test_a_preset_added_later_is_capped_without_being_listed(cap_on):
    """The rule is by field name: any experiment with a `steps` field inherits it."""
    @dataclasses.dataclass
    class Course:
        steps: int = 1
        grid: int = 64

    cfg = settings.make_config(Course, {"full": dict(steps=20_000, grid=128)}, "full")
    assert (cfg.steps, cfg.grid) == (2, 128)


def test_notebook_parameters_capped_by_name(cap_on):
    ns = {"GRID_STEPS": 2000, "SWEEP_EPOCHS": 60, "VIDEO_FRAMES": 60, "VIDEO_SIZE": 400, "BIG_WIDTH": 512,
          "COMPARE_SAMPLES": 64, "STEPS_NOTE": 5, "steps": 100, "HELDOUT_RUNS": ((4, "float32"),),
          "CFG": Exp(steps=5000, width=512), "NO_SIGMOID_EPOCHS": 1, "FLAG_STEPS": True}
    changed = capped.cap_namespace(ns)
    assert (ns["GRID_STEPS"], ns["SWEEP_EPOCHS"], ns["VIDEO_FRAMES"]) == (2, 1, 1)   # a side study: one epoch
    assert (ns["VIDEO_SIZE"], ns["BIG_WIDTH"], ns["COMPARE_SAMPLES"]) == (400, 512, 64)   # sizes stay
    assert ns["STEPS_NOTE"] == 5 and ns["steps"] == 100 and ns["FLAG_STEPS"] is True    # not a length by name
    assert (ns["CFG"].steps, ns["CFG"].width) == (2, 512)
    assert ns["NO_SIGMOID_EPOCHS"] == 1 and "NO_SIGMOID_EPOCHS" not in changed          # already below the cap
    assert changed["GRID_STEPS"] == (2000, 2)


def test_a_side_study_runs_one_setting_for_one_step(cap_on):
    ns = {"SWEEP_SIGMAS": (1.0, 2.0, 4.0), "COMPARE_RUNS": ["a", "b"], "COMPARE_STEPS": 1000, "SWEEP_MAX_SECONDS": 30,
          "SWEEP_ONE": (3.0,), "HELDOUT_RUNS": ((4, "float32"), (60, "float32")), "COMPARE_SAMPLES": 32}
    changed = capped.cap_namespace(ns)
    assert ns["SWEEP_SIGMAS"] == (1.0,) and ns["COMPARE_RUNS"] == ["a"] and ns["COMPARE_STEPS"] == 1
    assert ns["SWEEP_MAX_SECONDS"] == 30 and ns["COMPARE_SAMPLES"] == 32     # not a length, a size
    assert len(ns["HELDOUT_RUNS"]) == 2                                      # not a side study by name
    assert set(changed) == {"SWEEP_SIGMAS", "COMPARE_RUNS", "COMPARE_STEPS"}


def test_namespace_untouched_when_off(monkeypatch):
    monkeypatch.delenv(capped.ENV, raising=False)
    ns = {"GRID_STEPS": 2000}
    assert capped.cap_namespace(ns) == {} and ns["GRID_STEPS"] == 2000


def test_scene_keeps_two_validation_views(cap_on, tmp_path):
    from cs180utils.nerf import scene as S

    S.generate_scene(tmp_path / "s.npz", n_train=3, n_val=5, n_test=4, size=8)
    from cs180utils.machinery.sources import default_scene
    sc = default_scene(tmp_path / "s.npz")
    assert sc.images_val.shape[0] == capped.VAL_VIEWS == sc.c2ws_val.shape[0]
    assert sc.images.shape[0] == 3 and sc.c2ws_test.shape[0] == 4
