"""``check("volrend")``: a question's public tests, run on the files as they are on disk, scored by the same otter
test file as the autograder's (its public cases).

The tests run in a fresh Python process, so an edited module is tested as edited even when the notebook's
kernel imported the old one.
"""
from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cs180utils.machinery.assignment import grading
from cs180utils.machinery.assignment.questions import QUESTIONS, question


def repo_root() -> Path:
    """The repository this ``cs180utils`` was imported from (its ``tests/`` are run)."""
    import cs180utils  # noqa: PLC0415

    root = Path(cs180utils.__file__).resolve().parent.parent
    if not (root / "tests").is_dir():
        raise FileNotFoundError(f"{root} has no tests/ folder: check() runs the tests of a clone of the workbook")
    return root


class CheckReport:
    """The otter results of some questions' public tests; shows itself in a notebook and as text."""

    def __init__(self, files: dict, seconds: float):
        self.files, self.seconds = files, seconds
        self.table, self.summary = grading.points_table(files)
        self.summary["seconds"] = round(seconds, 1)

    @property
    def passed(self) -> bool:
        return all(tf.passed_all for tf in self.files.values())

    def failures(self) -> str:
        return "\n\n".join(tf.summary() for tf in self.files.values() if not tf.passed_all)

    def __repr__(self) -> str:
        fails = self.failures()
        return (self.table + "\n(public tests only: the autograder also runs hidden ones)"
                + ("\n\n" + fails if fails else ""))

    def _repr_html_(self) -> str:
        parts = [tf._repr_html_() for tf in self.files.values()]
        s = self.summary
        return "".join(parts) + (f"<p><small>public tests only (the autograder also runs hidden ones): "
                                 f"{s['score']:g} of {s['max_score']:g} points "
                                 f"({html.escape(', '.join(self.files))}; {self.seconds:.0f} s)</small></p>")


def run_public(qids: list[str], root: Path | None = None) -> dict[str, dict]:
    """Run the public tests of ``qids`` in a fresh process; outcomes per test reference."""
    root = Path(root) if root is not None else repo_root()
    refs = list(dict.fromkeys(r for qid in qids for r in question(qid).public))
    with tempfile.TemporaryDirectory(prefix="cs180-check-") as tmp:
        out = Path(tmp) / "outcomes.json"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
        proc = subprocess.run([sys.executable, "-m", "cs180utils.machinery.assignment", "_run", "--json", str(out), *refs],
                              cwd=root, env=env, capture_output=True, text=True)
        if not out.exists():
            raise RuntimeError(f"the tests did not run (exit {proc.returncode}):\n{proc.stdout[-2000:]}"
                               f"\n{proc.stderr[-2000:]}")
        return json.loads(out.read_text())


def check(*qids: str, root: Path | None = None) -> CheckReport:
    """Run the public tests of the questions ``qids`` (all when none are given) and score them."""
    t0 = time.perf_counter()
    qids = list(qids) or [q.id for q in QUESTIONS]
    for qid in qids:
        question(qid)   # a clear error for a misspelt name
    outcomes = run_public(qids, root)
    files = grading.score_with_otter({"refs": outcomes}, qids, include_hidden=False)
    return CheckReport(files, time.perf_counter() - t0)
