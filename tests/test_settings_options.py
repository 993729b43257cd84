"""Command-line options made from a config dataclass (settings.add_options): one option per field, typed by its
annotation, its help the field's comment, its range the config's own check (settings.check)."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Literal

import pytest

from cs180utils.machinery import settings
from cs180utils.machinery.settings import UNSET


@dataclass
class Toy:
    steps: int = 10                   # optimizer steps
    lr: float = 1e-3                  # learning rate
    window: int | None = 4            # radius around the peak
                                      # (None: the whole map)
    loss: Literal["ce", "mse"] = "ce"  # heatmap loss
    widths: tuple[int, ...] = (8, 16)  # channels per level
    scale: tuple[float, float] = (0.9, 1.1)
    flip: bool = False                # mirror images
    device: str | None = None         # not an option here

    def __post_init__(self):
        settings.check(self, positive=("steps", "lr", "widths", "scale"), nonnegative=("window",))


def parser_for(**kwargs) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(exit_on_error=False)
    settings.add_options(p, Toy, **kwargs)
    return p


def test_field_docs_read_the_comment_and_its_continuation():
    docs = settings.field_docs(Toy)
    assert docs["steps"] == "optimizer steps"
    assert docs["window"] == "radius around the peak (None: the whole map)"
    assert "scale" not in docs                       # no comment, no help text of its own


def test_one_option_per_field_typed_by_its_annotation():
    p = parser_for(skip=("device",), rename={"steps": "iterations"})
    assert p.cs180_options == {"steps": "--iterations", "lr": "--lr", "window": "--window", "loss": "--loss",
                               "widths": "--widths", "scale": "--scale", "flip": "--flip"}
    args = p.parse_args(["--iterations", "5", "--lr", "0.01", "--window", "none", "--loss", "mse",
                         "--widths", "4,8,16", "--scale", "0.8,1.2", "--no-flip"])
    assert settings.from_args(args, Toy) == dict(steps=5, lr=0.01, window=None, loss="mse", widths=(4, 8, 16),
                                                 scale=(0.8, 1.2), flip=False)
    left_out = settings.from_args(p.parse_args([]), Toy)
    assert set(left_out.values()) == {UNSET}            # left out: the preset's value stays
    assert "optimizer steps" in p.format_help()


@pytest.mark.parametrize("argv", [["--steps", "x"], ["--lr", "nan"], ["--steps", "none"], ["--scale", "1,2,3"],
                                  ["--loss", "l1"]])
def test_values_argparse_cannot_read_are_refused(argv):
    with pytest.raises(argparse.ArgumentError):
        parser_for().parse_args(argv)


def test_ranges_are_the_configs_own():
    with pytest.raises(settings.SettingError, match="steps must be at least 1, got 0") as exc:
        Toy(steps=0)
    assert exc.value.field == "steps"
    for bad in (dict(lr=0.0), dict(window=-1), dict(widths=(8, 0)), dict(lr=float("inf"))):
        with pytest.raises(settings.SettingError):
            Toy(**bad)
    with pytest.raises(ValueError, match="unknown loss 'l1': use one of ce, mse"):
        Toy(loss="l1")
    Toy(window=None, widths=(1,))                         # None where the type allows it


@pytest.mark.parametrize("field,value", [("steps", 7), ("lr", 0.002), ("window", None), ("widths", (4, 8)),
                                         ("flip", True), ("flip", False), ("loss", "mse"), ("scale", (0.5, 2.0))])
def test_option_words_parse_back_to_the_same_value(field, value):
    args = parser_for().parse_args(settings.option_words(field, value))
    assert settings.from_args(args, Toy)[field] == value
