"""cs180utils.machinery.colab: one repository URL that every notebook agrees with, only missing or too-old dependencies
installed, widgets on Colab (ipywidgets 7: nothing to do; 8: the custom widget manager)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import types

import pytest

from cs180utils.machinery import colab, config

NOTEBOOKS = config.REPO_ROOT / "notebooks"


def test_every_notebook_has_the_setup_cell_and_colab_link_of_repo_url():
    assert colab.disagreements(NOTEBOOKS) == [], (
        "run `python -m cs180utils.machinery.colab` to write cs180utils.machinery.colab.REPO_URL into every notebook")
    assert colab.readme_disagreements(config.REPO_ROOT / "README.md", NOTEBOOKS) == [], (
        "run `python -m cs180utils.machinery.colab` to write each notebook's Colab link into README's notebook table")
    assert f'REPO_URL = "{colab.REPO_URL}"' in colab.SETUP_CELL
    owner_name = colab.REPO_URL.removeprefix("https://github.com/")   # (the student edition has its own address)
    assert colab.github_name() == owner_name
    assert colab.colab_url("05_nose_tip_cnn.ipynb") == (
        f"https://colab.research.google.com/github/{owner_name}/blob/main/notebooks/05_nose_tip_cnn.ipynb")


def test_a_fork_changing_repo_url_is_told_which_notebooks_to_update(tmp_path, monkeypatch):
    for nb in sorted(NOTEBOOKS.glob("0[12]_*.ipynb")):
        shutil.copy(nb, tmp_path / nb.name)
    monkeypatch.setattr(colab, "REPO_URL", "https://github.com/my-course/workbook")
    monkeypatch.setattr(colab, "SETUP_CELL", colab.setup_cell("https://github.com/my-course/workbook"))
    names = [d.split(":")[0] for d in colab.disagreements(tmp_path)]
    assert names == ["01_neural_field_2d.ipynb"] * 2 + ["02_nerf_rays_sampling.ipynb"] * 2   # cell and link each
    before = json.loads((tmp_path / "01_neural_field_2d.ipynb").read_text())
    assert colab.write_notebooks(tmp_path) == ["01_neural_field_2d.ipynb", "02_nerf_rays_sampling.ipynb"]
    assert colab.disagreements(tmp_path) == [] and colab.write_notebooks(tmp_path) == []   # idempotent
    after = json.loads((tmp_path / "01_neural_field_2d.ipynb").read_text())
    assert [c["id"] for c in after["cells"]] == [c["id"] for c in before["cells"]]
    title = "".join(after["cells"][0]["source"])
    assert title.count("colab-badge.svg") == 1 and "github/my-course/workbook/blob/main/notebooks/01_" in title

    readme = tmp_path / "README.md"   # README's table: one row per notebook, the same link as the notebook's badge
    shutil.copy(config.REPO_ROOT / "README.md", readme)
    assert [d.split(":")[0] for d in colab.readme_disagreements(readme, tmp_path)] == [
        "01_neural_field_2d.ipynb", "02_nerf_rays_sampling.ipynb"]
    assert colab.write_readme(readme) and not colab.write_readme(readme)      # idempotent
    assert colab.readme_disagreements(readme, tmp_path) == []
    rows = [line for line in readme.read_text().splitlines() if line.startswith("| 01 |")]
    assert len(rows) == 1 and colab.badge("01_neural_field_2d.ipynb") in rows[0] and rows[0].count("colab-badge") == 1
    assert "github/my-course/workbook/blob/main/notebooks/01_" in rows[0]
    (tmp_path / "11_new.ipynb").write_text((tmp_path / "01_neural_field_2d.ipynb").read_text())
    assert "11_new.ipynb: no row in README.md's notebook table" in colab.readme_disagreements(readme, tmp_path)


@pytest.mark.parametrize("version, expected", [("2.14.1+cpu", (2, 14, 1)), ("8.1.9", (8, 1, 9)),
                                               ("4.14.0.94", (4, 14, 0, 94)), ("2.0rc1", (2, 0)), ("7", (7,))])
def test_version_tuple(version, expected):
    assert colab.version_tuple(version) == expected


def test_parse_requirements():
    assert colab.parse("torch>=2.8") == ("torch", (2, 8))
    assert colab.parse("Pillow >= 9.1") == ("pillow", (9, 1))
    assert colab.parse("tqdm") == ("tqdm", ())
    assert colab.parse('pytest>=7; extra == "assignment"') is None
    with pytest.raises(ValueError, match="name>=version"):
        colab.parse("numpy==2.4.6")


def test_missing_keeps_what_is_recent_enough_and_accepts_opencv_python():
    installed = {"torch": "2.9.0+cu126", "torchvision": "0.24.0", "numpy": "1.26.4", "ipywidgets": "7.7.1",
                 "opencv-python": "4.12.0.88"}

    def version_of(name):
        return next((installed[n] for n in (name, *colab.ALTERNATIVES.get(name, ())) if n in installed), None)

    reqs = ["torch>=2.8", "torchvision>=0.23", "numpy>=2.0", "ipywidgets>=7.6", "opencv-python-headless>=4.5",
            "imageio-ffmpeg>=0.4"]
    assert colab.missing(reqs, version_of) == ["numpy>=2.0", "imageio-ffmpeg>=0.4"]
    assert colab.installed_version("opencv-python-headless") is not None   # this environment has cv2


def test_install_missing_installs_only_those(monkeypatch):
    calls = []
    monkeypatch.setattr(colab, "requirements", lambda: ["torch>=2.8", "no-such-package-cs180>=1.0"])
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: calls.append(cmd))
    assert colab.install_missing() == ["no-such-package-cs180>=1.0"]
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", "no-such-package-cs180>=1.0"]]
    monkeypatch.setattr(colab, "requirements", lambda: ["torch>=2.8"])
    assert colab.install_missing() == [] and len(calls) == 1      # nothing lacking: pip is not run


@pytest.mark.parametrize("ipywidgets, enabled", [("7.7.1", False), ("8.1.9", True)])
def test_widgets_on_colab(monkeypatch, ipywidgets, enabled):
    calls = []
    output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("on"))
    google = types.ModuleType("google")
    google.colab = types.ModuleType("google.colab")
    google.colab.output = output
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    monkeypatch.setattr(colab, "installed_version", lambda name: ipywidgets)
    assert colab.enable_widgets() is enabled and calls == (["on"] if enabled else [])


def test_widgets_off_colab_do_nothing(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    assert not colab.on_colab() and colab.enable_widgets() is False


def test_install_source(monkeypatch):
    monkeypatch.delenv("CS180_INSTALL_FROM", raising=False)
    assert colab.install_source() == f"git+{colab.REPO_URL}"
    monkeypatch.setenv("CS180_INSTALL_FROM", "/tmp/cs180utils-0.1.0-py3-none-any.whl")
    assert colab.install_source() == "/tmp/cs180utils-0.1.0-py3-none-any.whl"


def test_an_installed_package_keeps_its_files_in_the_current_folder(tmp_path, monkeypatch):
    """Installed (no notebooks/ beside the package), data/, runs/ and figures/ go to the current folder (Colab:
    /content); from a clone, to the clone."""
    for var in ("CS180_CACHE_DIR", "CS180_RUNS_DIR", "CS180_FIGURES_DIR"):
        monkeypatch.delenv(var, raising=False)
    assert config.in_checkout() and config.workspace() == config.REPO_ROOT
    monkeypatch.setattr(config, "REPO_ROOT", tmp_path / "site-packages")
    monkeypatch.chdir(tmp_path)
    assert not config.in_checkout() and config.workspace() == tmp_path
    assert config.cache_dir() == tmp_path / "data" and config.runs_dir() == tmp_path / "runs"
