"""The package as a new user gets it: a wheel installed into a clean virtual environment, and a notebook opened
on its own (as Colab opens one from GitHub) whose first cell installs the package itself.

One clean environment for both (a session fixture): Python with only what Colab ships that matters here — torch
and torchvision at the lock's pins (from the local disk here) and ipykernel. Slow (a few minutes: the torch
install, then one notebook in the smoke profile), and part of ``make test``; ``-m 'not slow'`` leaves them out.
Set ``CS180_CLEAN_VENV=/some/folder`` to keep the environment between sessions (it is reused when present).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cs180utils.machinery import colab, config

pytestmark = pytest.mark.slow

ROOT = config.REPO_ROOT
EXTRAS_ONLY = {"pytest", "nbformat", "nbclient", "otter", "_pytest"}   # modules only the extras bring


def pins() -> dict[str, str]:
    lines = [ln.split("#")[0].strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    return dict(ln.split("==") for ln in lines if ln)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Run ``cmd``; on failure, fail the test with its output."""
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if done.returncode:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def clean_env(**extra: str) -> dict[str, str]:
    """os.environ without anything that would make this checkout importable or redirect the package's folders."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "CS180_RUNS_DIR", "CS180_FIGURES_DIR", "CS180_CACHE_DIR", "VIRTUAL_ENV")}
    return {**env, **extra}


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """cs180utils built into a wheel from a copy of the sources (the checkout stays free of build/)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "cs180utils", src / "cs180utils", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(src), "-w", str(out)])
    [whl] = out.glob("cs180utils-*.whl")
    return whl


@pytest.fixture(scope="session")
def clean_venv(tmp_path_factory) -> Path:
    """A fresh virtual environment with torch, torchvision (the lock's pins) and ipykernel; its python."""
    folder = Path(os.environ.get("CS180_CLEAN_VENV") or tmp_path_factory.mktemp("clean") / "venv")
    python = folder / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(folder)])
        p = pins()
        run([str(python), "-m", "pip", "install", "-q", f"torch=={p['torch']}", f"torchvision=={p['torchvision']}",
             f"ipykernel=={p['ipykernel']}"], env=clean_env())
    return python


def installed(python: Path, name: str) -> str | None:
    done = subprocess.run([str(python), "-m", "pip", "show", name], capture_output=True, text=True)
    return next((ln.split(":", 1)[1].strip() for ln in done.stdout.splitlines() if ln.startswith("Version:")), None)


IMPORT_ALL = """
import importlib, json, pkgutil, cs180utils
done, extras = [], []
for m in pkgutil.walk_packages(cs180utils.__path__, "cs180utils."):
    if m.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(m.name)
        done.append(m.name)
    except ModuleNotFoundError as exc:
        if exc.name.split(".")[0] not in EXTRAS_ONLY:
            raise
        extras.append(m.name)
print(json.dumps({"imported": done, "need_extras": extras, "file": cs180utils.__file__}))
"""


def test_wheel_installs_into_a_clean_venv_imports_and_runs(wheel, clean_venv, tmp_path):
    torch_before = installed(clean_venv, "torch")
    run([str(clean_venv), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(wheel)], env=clean_env())
    run([str(clean_venv), "-m", "pip", "install", "-q", str(wheel)], env=clean_env())   # + the declared deps
    assert installed(clean_venv, "torch") == torch_before == pins()["torch"]            # kept, not replaced
    done = run([str(clean_venv), "-c", f"EXTRAS_ONLY = {sorted(EXTRAS_ONLY)!r}\n" + IMPORT_ALL],
               cwd=tmp_path, env=clean_env())
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert str(clean_venv.parent.parent) in report["file"]          # the installed copy, not this checkout
    for sub in ("cs180utils.machinery.data", "cs180utils.field2d", "cs180utils.nerf", "cs180utils.keypoints",
                "cs180utils.machinery.assignment", "cs180utils.machinery.colab", "cs180utils.machinery.cli", "cs180utils.machinery.nerf.experiment",
                "cs180utils.machinery.keypoints.experiment_300w", "cs180utils.machinery.field2d.experiment"):
        assert sub in report["imported"], f"{sub} did not import from the wheel: {report}"
    assert set(report["need_extras"]) <= {"cs180utils.machinery.assignment.grading", "cs180utils.machinery.assignment.nbval_todo",
                                          "cs180utils.machinery.assignment.checking", "cs180utils.machinery.assignment.mutate",
                                          "cs180utils.machinery.assignment.autograder", "cs180utils.machinery.assignment.build",
                                          "cs180utils.machinery.assignment.__main__", "cs180utils.machinery.workbook"}, report
    helped = run([str(clean_venv), "-m", "cs180utils", "--help"], cwd=tmp_path, env=clean_env())
    assert "train" in helped.stdout and "data" in helped.stdout
    # nothing a command wrote may land inside site-packages: an installed package works in the current folder
    where = run([str(clean_venv), "-c", "from cs180utils.machinery import config; print(config.workspace(), config.cache_dir())"],
                cwd=tmp_path, env=clean_env())
    assert where.stdout.split() == [str(tmp_path), str(tmp_path / "data")]


def test_a_notebook_alone_installs_the_package_itself_and_runs(wheel, clean_venv, tmp_path, real_data_dir,
                                                               monkeypatch):
    """05 copied alone into an empty folder, a fresh kernel of the clean venv without cs180utils (and without
    tqdm, which the venv lacks on purpose): the first cell installs the package from the wheel
    (CS180_INSTALL_FROM) and the missing tqdm, keeps torch, and the notebook runs in the smoke profile."""
    import nbformat
    from nbclient import NotebookClient

    run([str(clean_venv), "-m", "pip", "uninstall", "-q", "-y", "cs180utils", "tqdm"], env=clean_env())
    assert installed(clean_venv, "cs180utils") is None and installed(clean_venv, "tqdm") is None
    folder = tmp_path / "alone"
    folder.mkdir()
    shutil.copy(ROOT / "notebooks" / "05_nose_tip_cnn.ipynb", folder)
    spec = tmp_path / "jupyter" / "kernels" / "cs180-clean"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(clean_venv), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "clean venv", "language": "python"}))
    env = clean_env(JUPYTER_PATH=str(tmp_path / "jupyter"), CS180_INSTALL_FROM=str(wheel), CS180_PROFILE="smoke",
                    CS180_DATA_DIR=str(real_data_dir), CS180_OFFLINE="1", MPLBACKEND="agg")
    for k in list(os.environ):
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)

    nb = nbformat.read(folder / "05_nose_tip_cnn.ipynb", as_version=4)
    NotebookClient(nb, kernel_name="cs180-clean", timeout=900, resources={"metadata": {"path": str(folder)}}).execute()

    first = next(c for c in nb.cells if c.cell_type == "code")
    printed = "".join(o.get("text", "") for o in first.outputs if o.output_type == "stream")
    assert "installing what this kernel lacks: tqdm>=" in printed and "profile=smoke" in printed
    assert installed(clean_venv, "cs180utils") == "0.1.0" and installed(clean_venv, "tqdm") is not None
    assert installed(clean_venv, "torch") == pins()["torch"]                 # what the kernel had is kept
    written = {p.name for p in folder.iterdir()}                          # the notebook's folder is its workspace
    assert "runs" in written and written <= {"05_nose_tip_cnn.ipynb", "runs", "figures"}, written
    assert colab.REPO_URL in "".join(first.source)


def test_from_a_clone_the_setup_cell_only_puts_the_clone_on_the_path(clean_venv):
    """A kernel without cs180utils, started in this checkout's notebooks/: the clone is imported, nothing is
    installed (today's behaviour from a clone)."""
    run([str(clean_venv), "-m", "pip", "uninstall", "-q", "-y", "cs180utils"], env=clean_env())
    done = run([str(clean_venv), "-c", colab.SETUP_CELL + "\nprint('FROM', cs180utils.__file__)"],
               cwd=ROOT / "notebooks", env=clean_env(CS180_INSTALL_FROM="/nonexistent.whl"))
    assert f"FROM {ROOT / 'cs180utils' / '__init__.py'}" in done.stdout and "installing" not in done.stdout
    assert installed(clean_venv, "cs180utils") is None


CLONE_AND_CHECK = """
from pathlib import Path
from cs180utils.machinery.assignment import check, markers
print("FROM", cs180utils.__file__)
print("BEFORE", check("pe").summary["states"]["pe"])
rel = "cs180utils/encodings.py"
path = Path(cs180utils.__file__).parent.parent / rel           # the clone's file, as a student edits it
path.write_text(markers.fill(path.read_text(), "pe", {"positional_encoding": [ANSWER]}, rel))
print("AFTER", check("pe").summary["states"]["pe"])
"""


def test_a_lone_student_notebook_clones_its_repository_and_checks_the_edited_files(clean_venv, tmp_path):
    """Colab's path with git: a notebook of the student edition opened alone runs its first cell, which clones the
    repository the cell names into the notebook's folder and installs that clone editable; the student edits the
    clone's files and check() (shipped in the package, no tests/ needed) reads them, in the same kernel."""
    from cs180utils.machinery.assignment import build, markers

    repo = build.build(ROOT, tmp_path / "cs180-student")
    for cmd in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x"]):
        run(["git", *cmd], cwd=repo)
    run([str(clean_venv), "-m", "pip", "uninstall", "-q", "-y", "cs180utils"], env=clean_env())
    folder = tmp_path / "colab"
    folder.mkdir()
    answer = markers.answers((ROOT / "cs180utils/encodings.py").read_text())[("pe", "positional_encoding", 0)].lines
    cell = colab.setup_cell(str(repo)) + f"\nANSWER = {answer!r}\n" + CLONE_AND_CHECK
    done = run([str(clean_venv), "-c", cell], cwd=folder,
               env={k: v for k, v in clean_env(CS180_PROFILE="smoke").items() if k != "CS180_INSTALL_FROM"})
    assert f"FROM {folder / 'cs180-student' / 'cs180utils' / '__init__.py'}" in done.stdout, done.stdout
    assert "BEFORE not written" in done.stdout and "AFTER passing" in done.stdout, done.stdout
    assert colab.REPO_URL not in (folder / "cs180-student" / "notebooks" / "05_nose_tip_cnn.ipynb").read_text()
