import dataclasses
import json

import pytest
import torch

from cs180utils.nerf.scene import generate_scene
from cs180utils.nerf.train import config_for, load_trained, train_nerf, evaluate


@pytest.fixture(scope="module")
def tiny_scene():
    return generate_scene(size=24, n_train=30, n_val=2, n_test=2)


def _cfg(**kw):
    base = dict(width=32, depth=2, n_samples=16, rays_per_step=256, lr=5e-3, image_size=24,
                val_every=10, log_every=5, checkpoint_every=5, sample_in_aabb=True, chunk=2048)
    base.update(kw)
    return config_for("vanilla", "smoke", **base)


def test_training_raises_psnr_and_writes_checkpoint(tiny_scene, tmp_path):
    cfg = _cfg(steps=40)
    res = train_nerf(cfg, tiny_scene, tmp_path, progress=False)
    val = res["history"]["val"]
    assert [v[0] for v in val] == [10, 20, 30, 40]
    first, last = val[0][2], res["val_psnr"]
    assert last > first + 1.0, val
    assert res["steps"] == 40 and res["seconds"] > 0 and res["checkpoint"].endswith("nerf.pt")
    assert len(res["history"]["snapshots"]) == 4 and res["history"]["snapshots"][0][1].shape == (24, 24, 3)
    assert json.loads((tmp_path / "result.json").read_text())["val_psnr"] == res["val_psnr"]
    model, cfg2, _ = load_trained(res["checkpoint"])
    assert cfg2 == cfg
    assert abs(evaluate(model, tiny_scene)["psnr"] - res["val_psnr"]) < 1e-2


def test_resume_continues_exactly(tiny_scene, tmp_path):
    straight = train_nerf(_cfg(steps=12), tiny_scene, tmp_path / "a", progress=False)
    train_nerf(_cfg(steps=6), tiny_scene, tmp_path / "b", progress=False)
    resumed = train_nerf(_cfg(steps=12), tiny_scene, tmp_path / "b", progress=False)
    a = torch.load(straight["checkpoint"], weights_only=False)["model"]
    b = torch.load(resumed["checkpoint"], weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["val_psnr"] == straight["val_psnr"]
    again = train_nerf(_cfg(steps=12), tiny_scene, tmp_path / "b", progress=False)  # finished: returns at once
    assert again["steps"] == 12 and again["val_psnr"] == straight["val_psnr"]


def test_resume_refuses_a_different_model(tiny_scene, tmp_path):
    train_nerf(_cfg(steps=2, val_every=100), tiny_scene, tmp_path, progress=False)
    with pytest.raises(ValueError, match="different configuration"):
        train_nerf(_cfg(steps=4, width=48), tiny_scene, tmp_path, progress=False)


def test_same_seed_same_numbers(tiny_scene, tmp_path):
    a = train_nerf(_cfg(steps=5, val_every=100), tiny_scene, tmp_path / "a", progress=False)
    b = train_nerf(_cfg(steps=5, val_every=100), tiny_scene, tmp_path / "b", progress=False)
    c = train_nerf(_cfg(steps=5, val_every=100, seed=1), tiny_scene, tmp_path / "c", progress=False)
    assert a["val_psnr"] == b["val_psnr"] != c["val_psnr"]


def test_config_for_profiles_and_errors():
    assert config_for("vanilla", "full").rays_per_step == 10_000 and config_for("vanilla", "full").lr == 5e-4
    cpu = config_for("vanilla", "cpu", steps=7)
    assert cpu.steps == 7 and cpu.width == 128 and cpu.sample_in_aabb
    with pytest.raises(ValueError, match="unknown NeRF model"):
        config_for("nope", "cpu")
    with pytest.raises(ValueError, match="unknown NerfConfig fields"):
        config_for("vanilla", "cpu", stepz=3)


def test_config_for_takes_none_as_given():
    """None is a value (no time cap, all validation views), not "keep the preset": the cpu preset has both set."""
    preset = config_for("vanilla", "cpu")
    assert preset.max_seconds == 870 and preset.val_views == 3
    cfg = config_for("vanilla", "cpu", max_seconds=None, val_views=None)
    assert cfg.max_seconds is None and cfg.val_views is None
