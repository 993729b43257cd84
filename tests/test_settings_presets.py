"""Named presets (settings.make_config): one table holds the profiles' presets and the named ones; a named one is
laid between the profile's preset and the overrides."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from cs180utils.machinery import config, settings


@dataclass
class Cfg:
    steps: int = 10
    lr: float = 1e-3
    decay: float | None = None
    width: int = 256


PROFILES = {"smoke": dict(steps=2, width=32), "cpu": dict(steps=100, width=128, decay=0.1)}
PRESETS = {**PROFILES, "course": dict(lr=5e-4, decay=None, width=256)}


@pytest.fixture(autouse=True)
def no_preset_env(monkeypatch):
    monkeypatch.delenv("CS180_PRESET", raising=False)


def test_order_is_defaults_profile_named_then_overrides():
    make = settings.make_config
    assert make(Cfg, PRESETS, "cpu") == Cfg(100, 1e-3, 0.1, 128)                 # no preset: the profile's
    assert make(Cfg, PRESETS, "cpu", "course") == Cfg(100, 5e-4, None, 256)      # over the profile's
    assert make(Cfg, PRESETS, "smoke", "course") == Cfg(2, 5e-4, None, 256)      # run length stays
    assert make(Cfg, PRESETS, "full", "course") == Cfg(100, 5e-4, None, 256)     # full: the nearest profile given
    assert make(Cfg, PRESETS, "cpu", "course", width=64, lr=settings.UNSET) == Cfg(100, 5e-4, None, 64)
    assert make(Cfg, PRESETS, "cpu", "course", decay=0.5) == Cfg(100, 5e-4, 0.5, 256)
    assert make(Cfg, PRESETS, "cpu", "none") == make(Cfg, PROFILES, "cpu")


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ValueError, match=r"Cfg has no preset 'paper'; its presets: course"):
        settings.make_config(Cfg, PRESETS, "cpu", "paper")
    with pytest.raises(ValueError, match=r"its presets: none"):
        settings.make_config(Cfg, PROFILES, "cpu", "course")


def test_environment_preset_applies_where_the_experiment_has_it(monkeypatch):
    monkeypatch.setenv("CS180_PRESET", " Course ")
    assert config.get_preset() == "course" and config.get_preset("none") is None
    assert settings.make_config(Cfg, PRESETS, "cpu").lr == 5e-4
    assert settings.make_config(Cfg, PROFILES, "cpu") == Cfg(100, 1e-3, 0.1, 128)   # has none: skipped
    assert settings.make_config(Cfg, PRESETS, "cpu", "none").lr == 1e-3             # explicit beats env


def test_deviations_name_each_difference_with_its_reason():
    course = settings.make_config(Cfg, PRESETS, "cpu", "course")
    here = settings.make_config(Cfg, PRESETS, "cpu")
    rows = settings.deviations(course, here, {"width": "CPU minutes"}, ignore=("steps",))
    assert rows == [("lr", 5e-4, 1e-3, "no reason recorded"), ("decay", None, 0.1, "no reason recorded"),
                    ("width", 256, 128, "CPU minutes")]
    table = settings.deviation_table(rows, ("course", "cpu"))
    assert table.splitlines()[0].split() == ["setting", "course", "cpu", "why"]
    assert table.splitlines()[3].split()[:3] == ["width", "256", "128"] and table.endswith("CPU minutes")
    assert settings.deviations(course, course, {}) == [] and "none" in settings.deviation_table([])
