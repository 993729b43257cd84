"""The command-line dispatcher: help lists every command, unknown commands exit 2, the JSON line comes last,
package errors become one line on stderr (exit 1), Ctrl-C says how to resume (exit 130)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from cs180utils.machinery import cli, config


def run_cli(*argv: str, env_extra: dict | None = None, tmp_path=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "CS180_OFFLINE": "1", **(env_extra or {})}
    if tmp_path is not None:
        env["CS180_CACHE_DIR"] = str(tmp_path / "cache")
    return subprocess.run([sys.executable, "-m", "cs180utils", *argv], capture_output=True, text=True, env=env,
                          cwd=config.REPO_ROOT, timeout=120)


def test_help_lists_every_command():
    res = run_cli("--help")
    assert res.returncode == 0
    for verb, targets in cli.COMMANDS.items():
        for target, (_, help_) in targets.items():
            assert f"{verb} {target}" in res.stdout and help_ in res.stdout
    for option in ("--profile", "--data-dir", "--out", "--seed", "--device"):
        assert option in res.stdout


def test_unknown_command_exits_2(capsys):
    assert cli.main(["train", "transformer"]) == 2
    out, err = capsys.readouterr()
    assert "unknown command 'train transformer'" in err and "train nerf" in out
    assert cli.main(["frobnicate"]) == 2
    assert cli.main([]) == 0   # no arguments: the usage, not an error


def test_data_where_prints_json_as_last_line(tmp_path):
    (tmp_path / "empty").mkdir()
    res = run_cli("data", "where", tmp_path=tmp_path, env_extra={"CS180_DATA_DIR": str(tmp_path / "empty")})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1                     # nothing else on stdout: logs and reasons go to stderr
    found = json.loads(lines[-1])
    assert found == {name: None for name in ("lego", "imm", "ibug300w", "fox")}
    assert "lego: not found" in res.stderr


@pytest.fixture
def fake_command(monkeypatch):
    """A ``train fake`` command whose run() does what the test puts in ``behaviour``."""
    behaviour = {}
    mod = types.ModuleType("cs180utils_test_fake_cmd")
    mod.add_arguments = lambda parser, command: parser.add_argument("--steps", type=int, default=3)
    mod.run = lambda args, command: behaviour["run"](args, command)
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    monkeypatch.setitem(cli.COMMANDS, "train", {**cli.COMMANDS["train"], "fake": (mod.__name__, "a fake")})
    return behaviour


def test_shared_options_reach_the_command_and_json_is_last(fake_command, capsys, tmp_path):
    def run(args, command):
        print("training log line")           # a command may print; the JSON must still come last
        return {"command": command, "steps": args.steps, "seed": args.seed, "profile": args.profile,
                "out": args.out, "device": args.device, "data_dir": args.data_dir,
                "psnr": np.float32(25.5), "path": tmp_path}
    fake_command["run"] = run
    rc = cli.main(["train", "fake", "--steps", "7", "--seed", "3", "--profile", "smoke", "--out", "o",
                   "--device", "cpu", "--data-dir", "d"])
    assert rc == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "training log line"
    out = json.loads(lines[-1])
    assert out == {"command": "train fake", "steps": 7, "seed": 3, "profile": "smoke", "out": "o", "device": "cpu",
                   "data_dir": "d", "psnr": 25.5, "path": str(tmp_path)}


def test_package_errors_become_one_line_and_exit_1(fake_command, capsys):
    from cs180utils.machinery.checkpoint import CheckpointError
    from cs180utils.machinery.data import DataNotFoundError

    for exc in (DataNotFoundError("lego: put it at data/"), CheckpointError("unreadable; train again"),
                ValueError("bad shape")):
        def run(args, command, exc=exc):
            raise exc
        fake_command["run"] = run
        assert cli.main(["train", "fake"]) == 1
        out, err = capsys.readouterr()
        assert err.strip() == f"error: {exc}" and out == ""


def test_ctrl_c_says_how_to_resume(fake_command, capsys):
    def run(args, command):
        raise KeyboardInterrupt
    fake_command["run"] = run
    assert cli.main(["train", "fake"]) == 130
    assert "run the same command again to resume" in capsys.readouterr().err


def test_bad_option_value_is_an_argparse_error(fake_command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "fake", "--profile", "huge"])
    assert exc.value.code == 2 and "invalid choice: 'huge'" in capsys.readouterr().err


@pytest.mark.parametrize("verb, target", [(v, t) for v, ts in cli.COMMANDS.items() for t in ts])
def test_every_command_builds_its_parser(verb, target, capsys):
    """Each listed command's module exists and adds its options next to the shared ones."""
    with pytest.raises(SystemExit) as exc:
        cli.main([verb, target, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"python -m cs180utils {verb} {target}" in out and "--profile" in out and "--seed" in out


def test_check_file_out_before_any_work(tmp_path):
    """A file destination (predict keypoints --csv) that cannot be written is refused before any work (#34)."""
    (tmp_path / "f").write_text("x")
    with pytest.raises(IsADirectoryError, match=r"^--csv .* is a folder; pass a file name \(e.g. .*/sub.csv\)$"):
        cli.check_file_out(tmp_path, "--csv", "sub.csv")
    with pytest.raises(NotADirectoryError, match=r"^--csv .*f/a.csv cannot be created: .*f is a file"):
        cli.check_file_out(tmp_path / "f" / "a.csv", "--csv", "sub.csv")
    if Path("/proc/self").is_dir():
        with pytest.raises(PermissionError, match=r"^--csv /proc/cs180/a.csv is not writable .*in /proc\); pass"):
            cli.check_file_out("/proc/cs180/a.csv", "--csv", "sub.csv")
    cli.check_file_out(tmp_path / "new" / "a.csv", "--csv", "sub.csv")   # a folder to be made: fine, none made
    assert not (tmp_path / "new").exists()
