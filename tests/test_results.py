"""benchmarks/results.py: README's results table is the rendering of benchmarks/results.json, and every command
in it is one the command line accepts (parsed, not run)."""
from __future__ import annotations

import importlib.util
import shlex
import sys

import pytest

from cs180utils.machinery import cli, config

spec = importlib.util.spec_from_file_location("results", config.REPO_ROOT / "benchmarks" / "results.py")
results = importlib.util.module_from_spec(spec)
sys.modules["results"] = results
spec.loader.exec_module(results)


@pytest.mark.parametrize("row", results.ROWS, ids=lambda r: r.key)
def test_every_command_parses(row):
    for args in (row.command, f"{row.command} {row.capped}"):
        verb, target, *rest = shlex.split(args)
        parser, _ = cli.build_parser(verb, target)
        ns = parser.parse_args([*rest, "--out", "/tmp/x", "--fresh"])
        assert ns.profile == "cpu", f"{args}: README's table is the cpu profile's"


def test_capped_variants_have_no_time_budget_left():
    # a time budget makes the step count depend on the machine: --determinism needs step/epoch caps
    for row in results.ROWS:
        capped = shlex.split(row.capped)
        assert "--steps" in capped or "--epochs" in capped, row.key


def test_readme_table_is_the_rendered_record():
    assert results.readme_table() == results.render(results.load_record()).strip(), \
        "README's results table differs from benchmarks/results.json: run `python benchmarks/results.py --render`"


def test_cell_formats_the_json_line_and_says_when_it_cannot():
    row = results.Row("k", "part", "train nose --profile cpu", "NME {val_nme:.2f} %")
    entry = {"command": row.command, "json": {"val_nme": 5.0812}, "date": "2026-11-30", "commit": "abc",
             "machine": "m", "load_before": 0.1, "load_after": 0.2}
    assert results.cell(row, entry) == "NME 5.08 %"
    assert results.cell(row, None) == "not measured yet"
    assert "re-measure" in results.cell(row, {**entry, "json": {}})
    assert "not measured with this command" in results.cell(row, {**entry, "command": "train nose --profile cpu --lr 1"})


def test_rows_name_their_machine_when_the_record_holds_several():
    entry = {"command": "train nose --profile cpu --threads 1", "json": {"val_nme": 5.0, "baseline_nme": 9.0,
             "seconds": 3}, "date": "2026-11-30", "commit": "abc", "machine": "Xeon, 2 cores", "load_before": 0.1,
             "load_after": 0.2}
    one = results.render({"nose": entry})
    assert "| 2026-11-30, abc, load 0.1 |" in one and "Machine: Xeon, 2 cores." in one
    two = results.render({"nose": entry, "keypoints": {**entry, "machine": "EPYC, 2 cores"}})
    assert "| 2026-11-30, abc, load 0.1, Xeon, 2 cores |" in two   # a faster machine gets further in a budget
    assert "Machine: EPYC, 2 cores; Xeon, 2 cores." in two


def test_rewrite_keeps_the_rest_of_the_readme(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{results.BEGIN}\nold table\n{results.END}\nafter\n")
    results.rewrite_readme({}, readme)
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith("\nafter\n") and "old table" not in text
    assert text.count("not measured yet") == len(results.ROWS)
