"""README's command-line reference stays true: every option its table and its usage lines name is an option of
the commands they name (the options of a `train` command are made from its experiment's config fields)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from cs180utils.machinery import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _options(verb: str, target: str) -> set[str]:
    parser, _ = cli.build_parser(verb, target)
    return {s for a in parser._actions for s in a.option_strings}


def _commands(column: str) -> list[tuple[str, str]]:
    """``"train field2d, nerf"`` -> [("train", "field2d"), ("train", "nerf")]; ``"eval, render"`` -> every eval
    and render command; ``"all"`` -> every command."""
    if column.strip() == "all":
        return [(v, t) for v, targets in cli.COMMANDS.items() for t in targets if v != "data"]
    out, verb = [], None
    for token in (t.strip() for t in column.split(",")):
        words = token.split()
        if words[0] in cli.COMMANDS:
            verb, words = words[0], words[1:]
        out += [(verb, t) for t in words] if words else [(verb, t) for t in cli.COMMANDS[verb]]
    return out


def _table_rows() -> list[tuple[str, list[str], str]]:
    section = README[README.index("| option | meaning | commands |"):]
    rows = []
    for line in section.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        rows.append((cells[0], cells[0].split(" / "), cells[-1]))
    return rows


@pytest.mark.parametrize("row", _table_rows(), ids=lambda r: r[0][:30])
def test_every_option_in_the_table_is_an_option_of_its_commands(row):
    text, alternatives, column = row   # "`--steps N` / `--epochs N`": each command takes one of them
    for verb, target in _commands(column):
        have = _options(verb, target)
        named = [set(re.findall(r"--[a-z][a-zA-Z0-9-]*", alt)) for alt in alternatives]
        assert all(named), f"README row without an option: {text}"
        assert any(options <= have for options in named), \
            f"README says `{verb} {target}` takes {text}; its options: {sorted(have)}"


def _usage_lines() -> list[str]:
    block = README[README.index("python -m cs180utils train field2d ["):]
    block = block[: block.index("```")]
    return [line for line in block.splitlines() if line.startswith("python -m cs180utils ")]


@pytest.mark.parametrize("line", _usage_lines(), ids=lambda l: " ".join(l.split()[3:5]))
def test_every_option_of_a_usage_line_exists(line):
    code = line.split("#")[0]
    words = code.split()
    verb = words[3]
    # "train nose [...] | keypoints [...]": each alternative target with the options after it
    parts = re.split(r"\s\|\s", " ".join(words[4:]))
    for part in parts:
        target = part.split()[0]
        if verb == "data":
            continue
        options = set(re.findall(r"--[a-z][a-zA-Z0-9-]*", part))
        have = _options(verb, target)
        missing = {o for o in options if o not in have}
        assert not missing, f"README's `{verb} {target}` line names {sorted(missing)}, which it does not take"


def test_the_experiments_settings_are_options_of_their_train_commands():
    """README: every setting of an experiment is an option of its train command, named after the field."""
    assert "named after the config field" in README
    for target, fields in (("field2d", ("L", "dtype", "grid_levels")), ("nerf", ("L_pos", "sample_in_aabb")),
                           ("nose", ("batch_norm", "channels")), ("unet", ("sigma", "tta_flip", "rotation"))):
        parser, _ = cli.build_parser("train", target)
        assert set(fields) <= set(parser.cs180_options), (target, sorted(parser.cs180_options))
