"""The student edition is what a course publishes: it names its own repository, never the solved one, and it
computes no question's answer outside the stubs.

- Its notebooks' setup cells and Colab badges, README's links and ``colab.py`` name the student repository
  (``colab.STUDENT_REPO_URL``, or the build's ``--repo-url``); the instructor's ``colab.REPO_URL`` (and its
  ``owner/name``) is in no file.
- No answer outside the stubs: every ``.py`` file and notebook code cell of the built edition is searched for
  each question's distinctive formulas (:data:`PATTERNS`, on the syntax tree); a place that computes what a
  question asks must call that question's function instead. The few places that legitimately match a pattern
  (a different quantity of the same shape) are listed in :data:`ALLOWED`, each with its file, function and why.
  ``test_the_scan_catches_each_known_leak`` plants each leak this scan was written for and shows it is caught.

``python tests/assignment/test_student_edition.py DIR`` scans an edition already built in DIR and prints what
it finds (e.g. one built from an older commit).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cs180utils.machinery import colab, config
from cs180utils.machinery.assignment.build import build

ROOT = config.REPO_ROOT
CUSTOM = "https://github.com/my-course/cs180-student-2026"


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    return build(ROOT, tmp_path_factory.mktemp("student") / "student")


def _notebooks(root: Path) -> list[Path]:
    found = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert len(found) == len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))) > 0
    return found


# ---- the student repository's address ------------------------------------------------------------------------

def _instructor_mentions(root: Path) -> list[str]:
    """Files under ``root`` (any kind, binary too) that name the instructor's repository."""
    needles = [colab.REPO_URL.encode(), colab.github_name().encode()]
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and any(n in p.read_bytes() for n in needles))


def _assert_names_only(root: Path, repo_url: str) -> None:
    assert _instructor_mentions(root) == [], f"the student edition names the solved repository {colab.REPO_URL}"
    assert colab.disagreements(root / "notebooks", repo_url) == []    # every setup cell and Colab badge
    for nb in _notebooks(root):
        cells = json.loads(nb.read_text())["cells"]
        first = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
        assert f'REPO_URL = "{repo_url}"' in first, nb.name
        assert colab.colab_url(nb.name, repo_url) in "".join(cells[0]["source"]), nb.name
    assert colab.readme_disagreements(root / "README.md", root / "notebooks", repo_url) == []
    assert f"`{colab.github_name(repo_url)}`" in (root / "README.md").read_text()   # Colab's GitHub tab
    source = (root / "cs180utils/machinery/colab.py").read_text()
    assert f'\nREPO_URL = "{repo_url}"\n' in source and f'\nSTUDENT_REPO_URL = "{repo_url}"\n' in source


def test_the_student_edition_names_the_student_repository_only(edition):
    assert colab.STUDENT_REPO_URL != colab.REPO_URL and colab.github_name(colab.STUDENT_REPO_URL) != colab.github_name()
    _assert_names_only(edition, colab.STUDENT_REPO_URL)


def test_a_custom_repo_url_ends_up_in_the_edition(tmp_path):
    out = tmp_path / "student"
    done = subprocess.run([sys.executable, "-m", "cs180utils.machinery.assignment", "student", "--out", str(out),
                           "--repo-url", CUSTOM], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["repo_url"] == CUSTOM
    _assert_names_only(out, CUSTOM)
    assert colab.github_name(colab.STUDENT_REPO_URL) not in (out / "README.md").read_text()


def test_the_edition_s_own_colab_module_agrees_with_its_notebooks(edition):
    """Imported from the edition, colab.py's checks (what tests/test_colab.py runs there) find nothing to fix."""
    code = ("import sys; from pathlib import Path; from cs180utils.machinery import colab as c; r = Path.cwd(); "
            "sys.exit(bool(c.disagreements(r / 'notebooks') or c.readme_disagreements(r / 'README.md', "
            "r / 'notebooks')) or c.REPO_URL != c.STUDENT_REPO_URL)")
    done = subprocess.run([sys.executable, "-c", code], cwd=edition, capture_output=True, text=True,
                          env={"PYTHONPATH": str(edition), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
