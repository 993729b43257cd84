"""Profiles, by_profile fallback, devices, seeding and paths."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from cs180utils import config


@pytest.fixture(autouse=True)
def no_profile_env(monkeypatch):
    monkeypatch.delenv("CS180_PROFILE", raising=False)


def test_profile_explicit_env_and_default(monkeypatch):
    assert config.get_profile("smoke") == "smoke"
    monkeypatch.setenv("CS180_PROFILE", " CPU ")
    assert config.get_profile() == "cpu"                 # trimmed and lower-cased
    assert config.get_profile("full") == "full"          # explicit beats the environment
    monkeypatch.delenv("CS180_PROFILE")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert config.get_profile() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.get_profile() == "full"


def test_bad_profile_says_what_to_choose(monkeypatch):
    with pytest.raises(ValueError, match="unknown profile 'fast': choose one of smoke, cpu, full"):
        config.get_profile("fast")
    monkeypatch.setenv("CS180_PROFILE", "gpu")
    with pytest.raises(ValueError, match="CS180_PROFILE"):
        config.by_profile(smoke=1, cpu=2, full=3)


def test_by_profile_falls_back_smoke_cpu_full():
    assert config.by_profile("smoke", smoke=1, cpu=2, full=3) == 1
    assert config.by_profile("smoke", cpu=2, full=3) == 2      # smoke -> cpu
    assert config.by_profile("smoke", full=3) == 3             # smoke -> cpu -> full
    assert config.by_profile("cpu", smoke=1, full=3) == 3      # never falls back to a smaller profile
    assert config.by_profile("full", smoke=1, cpu=2, full=3) == 3
    with pytest.raises(KeyError, match="no value given for profile 'full'"):
        config.by_profile("full", smoke=1, cpu=2)


def draws(seed: int):
    g = config.seed_everything(seed)
    return (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist(),
            torch.randn(2, generator=g).tolist())


def test_seed_everything_is_reproducible():
    a, b, c = draws(7), draws(7), draws(8)
    assert a == b
    assert all(x != y for x, y in zip(a, c))
    model_a = (config.seed_everything(3), torch.nn.Linear(4, 4))[1]
    model_b = (config.seed_everything(3), torch.nn.Linear(4, 4))[1]
    assert torch.equal(model_a.weight, model_b.weight)


def test_pick_device(monkeypatch):
    assert config.pick_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="use --device cpu"):
        config.pick_device("cuda")
    if getattr(torch.backends, "mps", None) is not None:
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert config.pick_device() == torch.device("cpu")
    assert config.pick_device("auto") == torch.device("cpu")


def test_paths_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CS180_FIGURES_DIR", str(tmp_path / "figs"))
    monkeypatch.setenv("CS180_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("CS180_CACHE_DIR", str(tmp_path / "cache"))
    assert config.figures_dir("01_field") == tmp_path / "figs" / "01_field" and (tmp_path / "figs" / "01_field").is_dir()
    assert config.runs_dir("nerf") == tmp_path / "runs" / "nerf" and (tmp_path / "runs" / "nerf").is_dir()
    assert config.data_dir() == tmp_path / "cache"
    monkeypatch.delenv("CS180_CACHE_DIR")
    assert config.data_dir() == config.REPO_ROOT / "data"
    assert (config.REPO_ROOT / "cs180utils" / "config.py").is_file()


def test_describe_names_profile_and_device():
    line = config.describe("smoke", "cpu")
    assert line.startswith("profile=smoke device=cpu torch=") and "threads=" in line
