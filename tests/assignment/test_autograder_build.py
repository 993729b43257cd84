"""The autograder's build (make autograder): its grading-only requirements, a plain copy of the repository (no
git) that builds a complete autograder, the refusal to build one that holds no checks, and make grade's reuse
of an up-to-date dist/autograder.zip. One autograder build (~5-20 s) for the module."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from cs180utils.machinery.assignment import autograder
from cs180utils.machinery.assignment.build import repo_files
from cs180utils.machinery.assignment.questions import QUESTIONS

ROOT = Path(__file__).resolve().parents[2]
# the project's pins that grading does not import (notebooks, figures, videos, the browser test)
NOT_FOR_GRADING = {"jupyterlab", "nbval", "matplotlib", "imageio", "imageio-ffmpeg"}
# what a plain copy may hold besides the repository's files, all of it left out as .gitignore says
CLUTTER = (".venv/lib/site.py", "cs180utils/__pycache__/x.cpython-311.pyc", "cs180utils.egg-info/PKG-INFO",
           "runs/nerf/log.txt", "data/lego.npz", "figures/f.png", "dist/autograder.zip", "submission.zip",
           "notebooks/.ipynb_checkpoints/01-checkpoint.ipynb", "tests/.pytest_cache/v")


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line)
            assert m, f"{path.name}: not a name==version pin: {line!r}"
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def test_grading_requirements_are_the_projects_pins_less_what_grading_does_not_import():
    full, lean = pins(ROOT / "requirements.txt"), pins(ROOT / autograder.GRADING_REQUIREMENTS)
    assert {"torch", "torchvision", "numpy", "otter-grader"} <= set(lean)
    differ = {name: (pin, full.get(name)) for name, pin in lean.items() if full.get(name) != pin}
    assert not differ, f"requirements-grading.txt pins that requirements.txt does not (grading, full): {differ}"
    assert not set(lean) & NOT_FOR_GRADING


def test_the_autograder_environment_has_the_grading_pins_and_torchs_cpu_wheels():
    lines = autograder._requirements(ROOT).splitlines()
    assert lines[0] == autograder.CPU_WHEELS == "--extra-index-url https://download.pytorch.org/whl/cpu"
    expected = {name: pin for name, pin in pins(ROOT / autograder.GRADING_REQUIREMENTS).items()
                if name != "otter-grader"}         # otter generate adds otter-grader[grading,plugins] itself
    assert dict(ln.split("==") for ln in lines[1:] if ln.strip() and not ln.startswith("#")) == expected



@pytest.fixture(scope="module")
def plain_copy(tmp_path_factory) -> tuple[Path, list[str]]:
    """The working tree's tracked files as ``git archive`` writes them (no .git, like a downloaded zip of the
    repository), with some clutter; and the files git tracks there."""
    try:
        rev = subprocess.run(["git", "stash", "create"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip() or "HEAD"
        archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
        tracked = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev], cwd=ROOT, capture_output=True,
                                 text=True, check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs the workbook's git checkout (these tests copy it with git archive)")
    dest = tmp_path_factory.mktemp("plain") / "workbook"
    dest.mkdir()
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    for rel in CLUTTER:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text("clutter")
    return dest, sorted(f for f in tracked if f)


@pytest.fixture(scope="module")
def autograder_zip(plain_copy, tmp_path_factory) -> Path:
    return autograder.make_autograder(plain_copy[0], tmp_path_factory.mktemp("ag") / "autograder.zip")


def test_a_plain_copy_lists_what_git_lists(plain_copy):
    copy, tracked = plain_copy
    assert repo_files(copy) == tracked


def test_a_copy_in_an_ignored_folder_of_another_checkout_lists_its_own_files(tmp_path):
    """git lists nothing there (the copy is ignored): the listing is the copy's own files, not none."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("/ignored/\n")
    copy = tmp_path / "ignored" / "workbook"
    for rel in ("cs180utils/a.py", "tests/test_a.py", ".venv/lib/b.py", "runs/c.txt"):
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_text("")
    assert repo_files(copy) == ["cs180utils/a.py", "tests/test_a.py"]


def test_a_plain_copy_builds_an_autograder_with_the_package_and_every_questions_test(plain_copy, autograder_zip):
    names = set(zipfile.ZipFile(autograder_zip).namelist())
    assert {f"tests/{q.id}.py" for q in QUESTIONS} <= names
    package = {f"files/course/{f}" for f in plain_copy[1] if f.startswith("cs180utils/") and f.endswith(".py")}
    assert "files/course/cs180utils/machinery/assignment/cases.py" in package
    assert {n for n in names if n.startswith("files/course/")} == package
    env = zipfile.ZipFile(autograder_zip).read("environment.yml").decode()
    assert autograder.CPU_WHEELS in env and "torch==" in env
    assert not [p for p in NOT_FOR_GRADING if re.search(rf"^\s*-\s*{p}==", env, flags=re.M)]


@pytest.mark.parametrize("leave_out", ["cs180utils/machinery/assignment/cases.py", "cs180utils"])
def test_no_autograder_without_the_checks_or_the_package(plain_copy, tmp_path, leave_out):
    copy = tmp_path / "workbook"
    shutil.copytree(plain_copy[0], copy, ignore=lambda d, names: [n for n in names
                                                                  if (Path(d) / n) == plain_copy[0] / leave_out])
    out = tmp_path / "autograder.zip"
    with pytest.raises((FileNotFoundError, ValueError), match="no checks|holds no solutions"):
        autograder.make_autograder(copy, out)
    assert not out.exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_grade_rebuilds_the_autograder_only_when_what_goes_into_it_changed(plain_copy, tmp_path):
    copy = tmp_path / "workbook"
    copy.mkdir()
    for rel in ("Makefile", autograder.GRADING_REQUIREMENTS):
        shutil.copy2(plain_copy[0] / rel, copy / rel)
    for rel in ("cs180utils", "tests"):
        shutil.copytree(plain_copy[0] / rel, copy / rel)
    built = copy / "dist" / "autograder.zip"
    built.parent.mkdir()
    build_line = "-m cs180utils.machinery.assignment autograder --out dist/autograder.zip"

    def make(*args: str) -> subprocess.CompletedProcess:   # the venv's stamp counts as there and up to date
        return subprocess.run(["make", "-o", ".venv/.cs180-installed", *args], cwd=copy, capture_output=True,
                              text=True)

    changes = ("cs180utils/nerf/rendering.py", "cs180utils/machinery/assignment/cases.py",
               autograder.GRADING_REQUIREMENTS)
    for i, changed in enumerate(changes):
        t = time.time() + 100 * (i + 1)              # newer than every input, the ones changed before included
        built.write_bytes(b"")
        os.utime(built, (t, t))
        assert make("-q", "dist/autograder.zip").returncode == 0, "a fresh autograder counts as out of date"
        dry = make("-n", "grade", "SUBMISSION=x")
        assert dry.returncode == 0 and build_line not in dry.stdout and "grade x --autograder" in dry.stdout
        os.utime(copy / changed, (t + 10, t + 10))
        assert make("-q", "dist/autograder.zip").returncode == 1, f"{changed} changed: the autograder is stale"
        assert build_line in make("-n", "grade", "SUBMISSION=x").stdout
    os.utime(built, (t + 100, t + 100))
    os.utime(copy / "tests/keypoints/test_cnn.py", (t + 200, t + 200))   # the autograder holds no tests/
    assert make("-q", "dist/autograder.zip").returncode == 0
