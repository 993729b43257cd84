"""Profiles, by_profile fallback, devices, seeding and paths."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from cs180utils.machinery import config


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
    assert config.by_profile("cpu", smoke=1, full=3) == 3      # a larger profile first
    assert config.by_profile("full", smoke=1, cpu=2, full=3) == 3
    # no larger value: the nearest smaller one ("cpu=10_000" means cpu and up; "smoke=64" means everywhere)
    assert config.by_profile("full", smoke=1, cpu=2) == 2
    assert config.by_profile("full", smoke=64) == 64 and config.by_profile("cpu", smoke=64) == 64
    assert config.by_profile("cpu", smoke=None, cpu=None) is None
    with pytest.raises(KeyError, match="unknown profile names"):
        config.by_profile("cpu", smoke=1, gpu=2)
    with pytest.raises(KeyError, match="at least one"):
        config.by_profile("cpu")


def test_every_notebook_parameter_resolves_in_every_profile():
    """Each by_profile(...) line of the notebooks' parameters cells has a value for smoke, cpu and full."""
    import ast
    import json
    from pathlib import Path
    found = 0
    for nb in sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            code = "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line
                             for line in "".join(cell["source"]).splitlines())   # IPython magics
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "by_profile":
                    kwargs = {k.arg for k in node.keywords}
                    for profile in config.PROFILES:
                        config.by_profile(profile, **{k: 0 for k in kwargs})   # raises if it cannot resolve
                    found += 1
    assert found > 30


def draws(seed: int):
    assert config.seed_everything(seed) is None   # a notebook cell ending with it shows no value
    g = torch.Generator().manual_seed(seed)
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
    assert config.cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("CS180_CACHE_DIR")
    assert config.cache_dir() == config.REPO_ROOT / "data"
    assert (config.REPO_ROOT / "cs180utils" / "machinery" / "config.py").is_file()


def test_unknown_device_lists_the_accepted_ones():
    for bad in ("tpu", "cpu:0x", "mps:1", "cuda:x", ""):
        if bad:
            with pytest.raises(ValueError, match=rf"unknown device {bad!r}: use one of cpu, cuda, cuda:N, mps"):
                config.pick_device(bad)
    assert config.pick_device(" CPU ") == torch.device("cpu") and config.pick_device(torch.device("cpu")).type == "cpu"


def test_describe_names_profile_and_device():
    line = config.describe("smoke", "cpu")
    assert line.startswith("profile=smoke device=cpu torch=") and "threads=" in line


def test_misspelt_preset_is_refused_wherever_it_comes_from(monkeypatch):
    monkeypatch.delenv("CS180_PRESET", raising=False)
    assert config.get_preset() is None and config.get_preset("Course") == "course" and config.get_preset("none") is None
    monkeypatch.setenv("CS180_PRESET", "corse")
    with pytest.raises(ValueError, match=r"unknown preset 'corse': .*CS180_PRESET='corse' in the environment"):
        config.get_preset()
    with pytest.raises(ValueError, match=r"CS180_PRESET='corse'"):
        config.describe("smoke", "cpu")                  # a notebook's first cell stops there
    assert config.get_preset("none") is None             # an explicit choice beats the environment


def test_profile_error_names_its_source(monkeypatch):
    monkeypatch.setenv("CS180_PROFILE", "crp")
    with pytest.raises(ValueError, match=r"unknown profile 'crp': .*CS180_PROFILE='crp' in the environment"):
        config.get_profile()
    with pytest.raises(ValueError, match=r"unknown profile 'gpu': .*pass --profile"):
        config.get_profile("gpu")


def test_every_experiments_presets_are_known_names():
    from cs180utils.machinery.keypoints import experiment_imm
    from cs180utils.machinery.nerf import experiment as nerf_experiment
    from cs180utils.machinery.keypoints import experiment_300w
    from cs180utils.machinery.field2d import experiment as field2d_experiment
    from cs180utils.machinery import settings
    tables = [*experiment_imm.PRESETS.values(), *nerf_experiment.PRESETS.values(),
              *experiment_300w.PRESETS.values(), *field2d_experiment.PRESETS.values()]
    assert any(settings.named_presets(t) for t in tables)
    for table in tables:
        assert set(settings.named_presets(table)) <= set(config.PRESETS), (set(table), config.PRESETS)
