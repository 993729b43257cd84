import dataclasses
import json

import pytest
import torch

from cs180utils.machinery import settings, training
from cs180utils.machinery.nerf import experiment
from cs180utils.machinery.nerf.experiment import NerfConfig, config, evaluate, load_trained, train
from cs180utils.nerf.fast import FastFieldConfig
from cs180utils.nerf.scene import generate_scene


@pytest.fixture(scope="module")
def tiny_scene():
    return generate_scene(size=24, n_train=30, n_val=2, n_test=2)


def _cfg(**kw):
    base = dict(width=32, depth=2, n_samples=16, batch_size=256, lr=5e-3, image_size=24,
                eval_every=10, log_every=5, checkpoint_every=5, sample_in_aabb=True, chunk=2048)
    base.update(kw)
    return config("vanilla", "smoke", **base)


def test_training_raises_psnr_and_writes_checkpoint(tiny_scene, tmp_path):
    cfg = _cfg(steps=40)
    res = train(cfg, tiny_scene, tmp_path, progress=False)
    val = res["history"]["eval"]
    assert [v["step"] for v in val] == [10, 20, 30, 40]
    first, last = val[0]["psnr"], res["val_psnr"]
    assert last > first + 1.0, val
    assert res["steps"] == 40 and res["seconds"] > 0 and res["checkpoint"].endswith(training.CHECKPOINT)
    assert [v["snapshot"].shape for v in val] == [(24, 24, 3)] * 4 and val[0]["snapshot"].dtype == "uint8"
    assert [row["step"] for row in res["history"]["train"]] == [5, 10, 15, 20, 25, 30, 35, 40]
    assert json.loads((tmp_path / "result.json").read_text())["val_psnr"] == res["val_psnr"]
    model, cfg2, _ = load_trained(res["checkpoint"])
    assert cfg2 == cfg
    assert abs(evaluate(model, tiny_scene)["psnr"] - res["val_psnr"]) < 1e-2


def test_the_sampling_range_is_the_scenes_from_training_to_the_loaded_checkpoint(tiny_scene, tmp_path):
    """near/far have one owner, the scene: the model samples the scene's range, the checkpoint keeps it with the
    data it was trained on, a loaded model renders with it, and a resume on another range is refused."""
    scene = dataclasses.replace(tiny_scene, near=2.5, far=5.5)
    res = train(_cfg(steps=2, eval_every=100), scene, tmp_path, progress=False)
    model, _, state = load_trained(res["checkpoint"])
    assert (model.settings.near, model.settings.far) == (2.5, 5.5)
    assert experiment.build_model(_cfg(), tiny_scene).settings.near == 2.0
    with pytest.raises(training.IncompatibleCheckpoint, match=r"'near': 2.5, 'far': 5.5"):
        train(_cfg(steps=4, eval_every=100), tiny_scene, tmp_path, progress=False)
    # a checkpoint from before the scene owned the range kept it in its config
    del state["identity"]["data"]["near"], state["identity"]["data"]["far"]
    state["config"].update(near=3.0, far=5.0)
    torch.save(state, tmp_path / "old.pt")
    old, _, _ = load_trained(tmp_path / "old.pt")
    assert (old.settings.near, old.settings.far) == (3.0, 5.0)


def test_resume_continues_exactly(tiny_scene, tmp_path):
    straight = train(_cfg(steps=12), tiny_scene, tmp_path / "a", progress=False)
    train(_cfg(steps=6), tiny_scene, tmp_path / "b", progress=False)
    resumed = train(_cfg(steps=12), tiny_scene, tmp_path / "b", progress=False)
    a = torch.load(straight["checkpoint"], weights_only=False)["model"]
    b = torch.load(resumed["checkpoint"], weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["val_psnr"] == straight["val_psnr"]
    again = train(_cfg(steps=12), tiny_scene, tmp_path / "b", progress=False)  # finished: returns at once
    assert again["steps"] == 12 and again["val_psnr"] == straight["val_psnr"]


def test_resume_refuses_a_different_model_or_scene(tiny_scene, tmp_path):
    train(_cfg(steps=2, eval_every=100), tiny_scene, tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"other settings or data — width: 32 \(saved\) vs 48 \(now\)"):
        train(_cfg(steps=4, width=48), tiny_scene, tmp_path, progress=False)
    other = generate_scene(size=24, n_train=30, n_val=2, n_test=2, seed=1)   # other cameras, other images
    with pytest.raises(training.IncompatibleCheckpoint, match=r"the data: .*'sha1': '\w+'} \(saved\) vs"):
        train(_cfg(steps=4), other, tmp_path, progress=False)
    train(_cfg(steps=4, eval_every=2, val_views=1), tiny_scene, tmp_path, progress=False)   # these may change


def test_same_seed_same_numbers(tiny_scene, tmp_path):
    a = train(_cfg(steps=5, eval_every=100), tiny_scene, tmp_path / "a", progress=False)
    b = train(_cfg(steps=5, eval_every=100), tiny_scene, tmp_path / "b", progress=False)
    c = train(_cfg(steps=5, eval_every=100, seed=1), tiny_scene, tmp_path / "c", progress=False)
    assert a["val_psnr"] == b["val_psnr"] != c["val_psnr"]


def test_config_profiles_and_errors():
    assert config("vanilla", "full").batch_size == 10_000 and config("vanilla", "full").lr == 5e-4
    cpu = config("vanilla", "cpu", steps=7)
    assert cpu.steps == 7 and cpu.width == 128 and cpu.sample_in_aabb and cpu.fast is None
    with pytest.raises(ValueError, match="unknown NeRF model"):
        config("nope", "cpu")
    with pytest.raises(ValueError, match="unknown NerfConfig settings"):
        config("vanilla", "cpu", stepz=3)
    with pytest.raises(ValueError, match="lr_final must be above 0"):
        config("vanilla", "cpu", lr_final=0.0)


def test_config_takes_none_as_given():
    """None is a value (no time cap, all validation views), not "keep the preset": the cpu preset has both set."""
    preset = config("vanilla", "cpu")
    assert preset.max_seconds == 870 and preset.val_views == 3
    cfg = config("vanilla", "cpu", max_seconds=None, val_views=None)
    assert cfg.max_seconds is None and cfg.val_views is None
    assert config("vanilla", "cpu", max_seconds=settings.UNSET) == preset   # UNSET: not given


def test_presets_of_both_models_in_every_profile():
    """The presets hold only NerfConfig settings, the fast model's field options as a FastFieldConfig."""
    for model in experiment.MODELS:
        for profile in ("smoke", "cpu", "full"):
            cfg = config(model, profile)
            assert cfg.model == model and isinstance(cfg, NerfConfig)
            assert (cfg.fast is None) == (model == "vanilla")
            assert cfg.lr_final is None or cfg.lr_final < cfg.lr
    assert config("fast", "cpu").max_seconds == 300 and config("fast", "cpu").fast == FastFieldConfig(
        early_eval_every=10, early_eval_until=200, density_unit="step", density_bias=-5.5)
    assert all(config("fast", p).fast.density_unit == "step" for p in ("smoke", "cpu", "full"))
    assert config("fast", "smoke").fast.occupancy_resolution == 32 and config("fast", "full").fast.hidden == 64


def test_fast_options_are_typed_and_overridable():
    cfg = config("fast", "smoke", fast={"hidden": 8})
    assert cfg.fast.hidden == 8 and cfg.fast.occupancy_resolution == 32   # the rest of the preset stays
    cfg.fast.hidden = 99
    assert config("fast", "smoke").fast.hidden != 99                      # the preset was not changed
    assert config("fast", "smoke", fast=FastFieldConfig(hidden=4)).fast == FastFieldConfig(hidden=4)
    with pytest.raises(ValueError, match="unknown FastFieldConfig settings"):
        config("fast", "smoke", fast={"hiden": 8})
    back = settings.from_dict(NerfConfig, settings.config_dict(cfg))    # what a checkpoint stores
    assert back == cfg and isinstance(back.fast, FastFieldConfig)


def test_one_run_folder_per_setting_and_scene(tiny_scene, monkeypatch, tmp_path):
    monkeypatch.setenv("CS180_RUNS_DIR", str(tmp_path))
    a = experiment.run_dir(_cfg(), tiny_scene)
    assert a.parent == tmp_path / "nerf" and a.name.startswith(f"vanilla_{tiny_scene.name}-")
    assert a == experiment.run_dir(_cfg(device="cpu"), tiny_scene)
    assert a != experiment.run_dir(_cfg(lr=1e-3), tiny_scene)
    other = generate_scene(size=24, n_train=30, n_val=2, n_test=2, seed=1)
    assert a != experiment.run_dir(_cfg(), other)   # same name ("generated"), other images
    cfg = _cfg(steps=2, eval_every=0)
    res = train(cfg, tiny_scene, progress=False)   # the default folder is the run_dir
    folder = experiment.run_dir(cfg, tiny_scene)
    assert res["checkpoint"] == str(folder / training.CHECKPOINT)
    assert json.loads((folder / training.RESULT).read_text())["steps"] == 2


def test_periodic_validation_on_a_few_views_the_final_one_on_all(tiny_scene, tmp_path):
    res = train(_cfg(steps=20, val_views=1), tiny_scene, tmp_path, progress=False)
    assert [(v["step"], v["views"]) for v in res["history"]["eval"]] == [(10, 1), (20, 2)]
    # a time budget that ends right after a periodic validation still ends on all the views
    res = train(_cfg(steps=20, eval_every=1, val_views=1, max_seconds=1e-9), tiny_scene, tmp_path / "t",
                progress=False)
    assert res["stopped_at_max_seconds"] and res["history"]["eval"][-1]["views"] == 2


def test_learning_rate_decays_exponentially_from_lr_to_lr_final(tiny_scene, tmp_path):
    res = train(_cfg(steps=4, lr=1e-2, lr_final=1e-3, eval_every=0), tiny_scene, tmp_path, progress=False)
    groups = torch.load(res["checkpoint"], weights_only=False)["optimizer"]["param_groups"]
    assert groups[0]["lr"] == pytest.approx(1e-2 * 0.1 ** (3 / 4))   # the last step's rate: progress 3/4
    res = train(_cfg(steps=4, lr=1e-2, lr_final=None, eval_every=0), tiny_scene, tmp_path / "c", progress=False)
    assert torch.load(res["checkpoint"], weights_only=False)["optimizer"]["param_groups"][0]["lr"] == 1e-2


def test_notebooks_04_and_10_ask_for_notebook_03s_model():
    """Notebook 04 reuses the model notebook 03 trains (the same run folder) and its video frames (the same
    cameras and size): their parameters cells build CFG, SEED, VIDEO_FRAMES and VIDEO_SIZE with the same
    expressions. Notebook 10 compares the fast field with that same run (its VANILLA is 03's CFG)."""
    import ast
    from pathlib import Path

    def assignments(name):
        path = Path(__file__).resolve().parents[2] / "notebooks" / name
        cell = next(c for c in json.loads(path.read_text())["cells"]
                    if "parameters" in c.get("metadata", {}).get("tags", []))
        tree = ast.parse("".join(cell["source"]))
        return {t.id: ast.dump(node.value) for node in tree.body if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)}

    nb03, nb04 = assignments("03_nerf_volume_rendering_training.ipynb"), assignments("04_nerf_depth_maps.ipynb")
    shared = ("CFG", "SEED", "VIDEO_FRAMES", "VIDEO_SIZE")
    assert {k: nb03[k] for k in shared} == {k: nb04[k] for k in shared}
    nb10 = assignments("10_fast_nerf_on_cpu.ipynb")
    assert nb10["VANILLA"] == nb03["CFG"] and nb10["SEED"] == nb03["SEED"]


def test_fast_batch_ramp_and_early_validation_steps():
    cfg = config("fast", "smoke", batch_size=4096, steps=1000,
                 fast={"batch_start": 1024, "batch_ramp_steps": 500, "early_eval_every": 25, "early_eval_until": 100})
    from cs180utils.machinery.nerf.experiment import eval_steps, rays_per_step
    assert [rays_per_step(cfg, s) for s in (0, 250, 499, 500, 1000)] == [1024, 2560, 4090, 4096, 4096]
    assert eval_steps(cfg) == (25, 50, 75, 100)
    plain = config("fast", "smoke", batch_size=4096, fast={"batch_start": None, "early_eval_every": 0})
    assert rays_per_step(plain, 0) == 4096 and eval_steps(plain) == ()
    assert rays_per_step(config("vanilla", "smoke"), 0) == config("vanilla", "smoke").batch_size


# ---- the course's recipe ------------------------------------------------------------------------------------

@pytest.mark.parametrize("profile", ["smoke", "cpu", "full"])
def test_course_preset_is_the_write_ups_recipe_over_any_profile(profile, monkeypatch):
    monkeypatch.delenv("CS180_PRESET", raising=False)
    course, here = config("vanilla", profile, preset="course"), config("vanilla", profile)
    recipe = (course.width, course.depth, course.L_pos, course.L_dir, course.n_samples, course.batch_size,
              course.lr, course.lr_final, course.sample_in_aabb, course.hierarchical, course.image_size)
    assert recipe == (256, 8, 10, 4, 32, 10_000, 5e-4, None, False, False, None)     # near 2, far 6: the scene's
    assert (course.steps, course.max_seconds, course.eval_every) == (here.steps, here.max_seconds, here.eval_every)
    assert config("vanilla", profile, preset="course", steps=7, lr_final=1e-5).lr_final == 1e-5   # overrides last
    rows = experiment.course_deviations(here, profile)
    assert rows and all(why != "no reason recorded" for *_, why in rows), rows     # every departure has a reason
    assert {k for k, *_ in rows} == set(settings.differences(settings.config_dict(course), settings.config_dict(here),
                                                             experiment.RUN_SETTINGS))
    assert experiment.course_deviations(course, profile) == []


def test_full_profile_departs_from_the_course_in_samples_and_decay_only(monkeypatch):
    monkeypatch.delenv("CS180_PRESET", raising=False)
    rows = {k: (a, b) for k, a, b, _ in experiment.course_deviations(config("vanilla", "full"), "full")}
    assert rows == {"n_samples": (32, 64), "lr_final": (None, 5e-5)}


def test_course_preset_from_the_environment_and_its_errors(monkeypatch):
    monkeypatch.setenv("CS180_PRESET", "course")
    assert config("vanilla", "cpu").batch_size == 10_000 and config("vanilla", "cpu", preset="none").batch_size == 1024
    assert config("fast", "cpu") == config("fast", "cpu", preset="none")           # the fast model has no course
    with pytest.raises(ValueError, match="no preset 'course'"):
        config("fast", "cpu", preset="course")
    with pytest.raises(ValueError, match="no preset 'paper'; its presets: course"):
        config("vanilla", "cpu", preset="paper")
