"""The Gradescope autograder (``make autograder``), a student's submission zip, and local grading
(``make grade SUBMISSION=path``), all with otter-grader.

The autograder zip is what ``otter generate`` makes (``run_autograder``, ``setup.sh``, an environment with the
project's pins, ``otter_config.json``), holding

- ``tests/<question>.py``: one otter test file per question (``grading.otter_test_source``),
- ``files/cs180_grade.py``: the submission script otter executes in its grading kernel; it copies the
  submission's marked files into ``course/`` and runs the questions' pytest tests there once,
- ``files/course/``: the package with stubs in place of the solutions, and every test (hidden ones included).

A submission is the student's repository folder, or a zip of it, or the zip ``make submission`` writes (just
the marked files). Wherever they sit in it, only the marked files are taken; all else is the course's.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

from cs180utils.machinery.assignment import grading
from cs180utils.machinery.assignment.build import build
from cs180utils.machinery.assignment.questions import QUESTIONS, marked_files

GRADE_SCRIPT = '''\
"""CS180 workbook: otter runs this in its grading kernel, in the submission folder, before the question tests.

It copies the submission's marked files into course/ (the course's package and tests) and runs every
question's pytest tests there, once; the test files in tests/ score the outcomes it leaves in CS180_OUTCOMES.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path("course").resolve()))
from cs180utils.machinery.assignment import grading as _cs180_grading

CS180_OUTCOMES = _cs180_grading.grade_in_place(Path.cwd(), Path("course"))
'''

OTTER_CONFIG = {
    "lang": "python",
    "show_stdout": False,        # the grading kernel's output stays with the instructor
    "show_hidden": False,        # hidden tests' results are shown only once grades are published
    "print_summary": True,
}


def _requirements(root: Path) -> str:
    """The project's pinned requirements, less otter itself (otter generate adds its own)."""
    lines = (Path(root) / "requirements.txt").read_text().splitlines()
    return "\n".join(ln for ln in lines if not ln.strip().lower().startswith("otter-grader")) + "\n"


def make_autograder(root: Path, out: Path) -> Path:
    """Write the autograder zip for the repository at ``root`` (its questions, tests and pins) to ``out``."""
    from otter.generate import main as otter_generate  # noqa: PLC0415

    root, out = Path(root).resolve(), Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cs180-autograder-") as tmp:
        staging = Path(tmp)
        build(root, staging / "course", "course")
        (staging / "cs180_grade.py").write_text(GRADE_SCRIPT)
        (staging / "tests").mkdir()
        for q in QUESTIONS:
            (staging / "tests" / f"{q.id}.py").write_text(grading.otter_test_source(q.id))
        (staging / "requirements.txt").write_text(_requirements(root))
        (staging / "otter_config.json").write_text(json.dumps(OTTER_CONFIG, indent=2))
        cwd = os.getcwd()
        try:
            os.chdir(staging)
            otter_generate(tests_dir="tests", output_path=str(out), config="otter_config.json",
                           requirements="requirements.txt", files=["cs180_grade.py", "course"],
                           python_version="3.11", no_environment=True)
        finally:
            os.chdir(cwd)
    return out


def submission_zip(repo: Path, out: Path) -> tuple[Path, list[str]]:
    """Zip the marked files of a repository folder (a student's clone) into ``out``.

    Returns the zip and the marked files that were missing (a missing file is graded as not done)."""
    repo = Path(repo)
    found = grading.find_marked_files(repo, marked_files())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, path in sorted(found.items()):
            zf.write(path, rel)
    return out, [f for f in marked_files() if f not in found]


@contextlib.contextmanager
def _stderr_to(path: Path):
    """Send this process's stderr, and so its children's (otter's grading kernel), to ``path`` for a while."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "w") as f:
        os.dup2(f.fileno(), 2)
        try:
            with contextlib.redirect_stderr(f):
                yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def grade(submission: Path, autograder: Path) -> tuple[str, dict]:
    """Grade a submission (folder or zip) with ``otter run`` (no Docker): the per-question table and the
    summary ``{"score", "max_score", "points": {question: points}, "missing", "seconds"}``."""
    from otter.api import grade_submission  # noqa: PLC0415

    t0 = time.perf_counter()
    submission, autograder = Path(submission).resolve(), Path(autograder).resolve()
    if not submission.exists():
        raise FileNotFoundError(f"no submission at {submission}: give the repository folder or a zip "
                                f"(make submission writes one)")
    if not autograder.is_file():
        raise FileNotFoundError(f"no autograder at {autograder}: run make autograder first")
    with tempfile.TemporaryDirectory(prefix="cs180-grade-") as tmp:
        if submission.is_dir():
            subm, missing = submission_zip(submission, Path(tmp) / "submission.zip")
        else:
            unpacked = Path(tmp) / "unpacked"
            unpacked.mkdir()
            shutil.copy(submission, unpacked / submission.name)
            found = grading.find_marked_files(unpacked, marked_files(), unzip=True)
            missing = [f for f in marked_files() if f not in found]
            subm = submission
        log = Path(tmp) / "kernel.log"
        with _stderr_to(log), warnings.catch_warnings():
            warnings.simplefilter("ignore")         # otter's own pandas deprecations
            results = grade_submission(str(subm), str(autograder), quiet=True)
    if results.has_catastrophic_failure():
        raise RuntimeError(f"the autograder failed on {submission}: {results.catastrophic_error}")
    order = [q.id for q in QUESTIONS if q.id in results.results]
    files = {qid: results.results[qid] for qid in order + sorted(set(results.results) - set(order))}
    text, summary = grading.points_table(files)
    summary["missing"] = missing
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    return text, summary
