"""The Gradescope autograder (``make autograder``), a student's submission zip, and local grading
(``make grade SUBMISSION=path``), all with otter-grader.

The autograder zip is what ``otter generate`` makes (``run_autograder``, ``setup.sh``, an environment with the
grading pins of ``requirements-grading.txt``, ``otter_config.json``), holding

- ``tests/<question>.py``: one otter test file per question, one case per check (``grading.otter_test_source``),
- ``files/cs180_grade.py``: the script otter executes in its grading kernel: it grades the submission's graded
  files question by question (``grading.grade_in_place``); the kernel never imports student code,
- ``files/course/``: the package as the instructor has it (reference solutions, hidden checks): private to the
  autograder, unreadable by the students' code while it runs (``sandbox``),
- ``run_otter.py``: otter's, with one step first: the submission folder is cleared of everything that is not a
  graded file (a notebook or a script there would be what otter runs), with a note.

A submission is the student's repository folder, or a zip of it, or the zip ``make submission`` writes (just
the marked files). Wherever they sit in it, only the marked files are taken, and of those only the lines between
each question's START and END OF YOUR CODE lines; all else is the course's.
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

It grades each question of the submission's graded files in a limited process of its own, against course/ (the
reference); the test files in tests/ score the verdicts it leaves in CS180_OUTCOMES.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path("course").resolve()))
from cs180utils.machinery.assignment import grading as _cs180_grading

CS180_OUTCOMES = _cs180_grading.grade_in_place(Path.cwd(), Path("course"))
'''

# run_otter.py's first step on Gradescope: keep only the graded files of the submission (at their paths)
CLEAN_STEP = '''
import sys as _sys
_sys.path.insert(0, "/autograder/source/files/course")
from cs180utils.machinery.assignment.grading import clean_submission_folder as _clean
_clean("/autograder/submission")
_sys.path.pop(0)
'''

OTTER_CONFIG = {
    "lang": "python",
    "show_stdout": False,        # the grading kernel's output stays with the instructor
    "show_hidden": False,        # hidden tests' results are shown only once grades are published
    "print_summary": True,
}


GRADING_REQUIREMENTS = "requirements-grading.txt"
CPU_WHEELS = "--extra-index-url https://download.pytorch.org/whl/cpu"   # Gradescope has no GPU: torch's CPU wheels


def _requirements(root: Path) -> str:
    """The autograder's pip requirements: the grading-only pins (``requirements-grading.txt``, not the whole
    project's) less otter itself (otter generate adds its own), after the line that lets pip take torch's CPU
    wheels (see that file)."""
    lines = (Path(root) / GRADING_REQUIREMENTS).read_text().splitlines()
    return "\n".join([CPU_WHEELS] + [ln for ln in lines if not ln.strip().lower().startswith("otter-grader")]) + "\n"


def make_autograder(root: Path, out: Path) -> Path:
    """Write the autograder zip for the repository at ``root`` (its questions, tests and pins) to ``out``."""
    from otter.generate import main as otter_generate  # noqa: PLC0415

    root, out = Path(root).resolve(), Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cs180-autograder-") as tmp:
        staging = Path(tmp)
        build(root, staging / "course", "course")     # raises for a tree without solutions or checks
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
    _add_clean_step(out)
    return out


def _add_clean_step(zip_path: Path) -> None:
    """Put ``CLEAN_STEP`` before otter's own run in the zip's run_otter.py."""
    with zipfile.ZipFile(zip_path) as zf:
        entries = {i.filename: (i, zf.read(i.filename)) for i in zf.infolist()}
    if "run_otter.py" not in entries:
        raise RuntimeError(f"{zip_path} has no run_otter.py: otter-grader's layout changed; pin otter-grader")
    info, data = entries["run_otter.py"]
    text = data.decode()
    marker = 'if __name__ == "__main__":\n'
    if marker not in text:
        raise RuntimeError("run_otter.py of this otter-grader has no main block to extend; pin otter-grader")
    text = text.replace(marker, marker + "".join("    " + ln + "\n" for ln in CLEAN_STEP.strip().split("\n")))
    entries["run_otter.py"] = (info, text.encode())
    tmp = zip_path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, (i, d) in entries.items():
            zf.writestr(i, d)
    tmp.replace(zip_path)


def submission_zip(repo: Path, out: Path) -> tuple[Path, list[str]]:
    """Zip the marked files of a repository folder (a student's clone) into ``out``, and its ``report.html`` (the
    project page of ``make report``, graded by hand) when there is one.

    Returns the zip and the marked files that were missing (a missing file is graded as not done)."""
    repo = Path(repo)
    found = grading.find_marked_files(repo, marked_files())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, path in sorted(found.items()):
            zf.write(path, rel)
        if (repo / "report.html").is_file():
            zf.write(repo / "report.html", "report.html")
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
    summary ``{"score", "max_score", "points": {question: points}, "missing", "notes", "seconds"}``.

    Only the graded files go to otter, in a clean zip: a path that is missing or not a zip, and a zip with
    a traversal, absolute or link entry, raise ``grading.SubmissionError`` (one line); other entries are
    ignored with a note."""
    from otter.api import grade_submission  # noqa: PLC0415

    t0 = time.perf_counter()
    submission, autograder = Path(submission).resolve(), Path(autograder).resolve()
    texts, notes = grading.read_submission(submission, marked_files())
    if not autograder.is_file():
        raise FileNotFoundError(f"no autograder at {autograder}: run make autograder first")
    missing = [f for f in marked_files() if f not in texts]
    with tempfile.TemporaryDirectory(prefix="cs180-grade-") as tmp:
        subm = Path(tmp) / "submission.zip"
        with zipfile.ZipFile(subm, "w", zipfile.ZIP_DEFLATED) as zf:
            for rel, text in sorted(texts.items()):
                zf.writestr(rel, text)
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
    summary["notes"] = notes
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    return text, summary
