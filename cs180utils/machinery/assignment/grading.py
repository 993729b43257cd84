"""Grading: the questions' tests run once with pytest, their outcomes scored by otter-grader's test files.

The pieces, in the order a grade is made:

- ``resolve`` turns a test reference of ``questions.py`` (``test_course_volrend_check``,
  ``test_cnn.py::test_a_few_steps_lower_the_loss``, ``name[param]``) into a pytest node id under ``tests/``.
- ``run_tests`` runs node ids with pytest in this process and records each one's outcome and failure message
  (a per-test time limit stops a student's endless loop).
- ``grade_in_place`` is what the autograder's submission script calls inside otter's grading kernel: it copies
  the student's marked files into the course's copy of the package (``course/``: stubs in place of the
  solutions, all tests, hidden ones included) and runs every question's tests there, once.
- ``otter_test_source`` writes a question as an otter test file (one test case per test reference, the
  question's points shared by them, hidden ones flagged); each case only looks up the outcome
  (``require_passed``), so a student's ``check`` and the autograder score the same outcomes the same way.

``cs180utils.machinery.assignment.autograder`` assembles the Gradescope zip and grades a submission with ``otter run``.
"""
from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import shutil
import signal
import sys
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

OUTCOMES = "CS180_OUTCOMES"     # the name of the outcomes in the grading kernel's globals
TEST_TIMEOUT_S = 300            # one test may run this long before it counts as failed
EXCLUDED_TEST_DIRS = ("tests/assignment/",)   # the assignment's CI checks: no question tests ...
EXTRA_HIDDEN_TESTS = "tests/assignment/hidden/"   # ... except its extra hidden tests


# ---- test references ----------------------------------------------------------------------------------------

REF = re.compile(r"^(?:(?P<file>[\w./-]+\.py)::)?(?P<func>\w+)(?:\[(?P<param>[^\]]+)\])?$")


@dataclass(frozen=True)
class Resolved:
    ref: str
    file: str        # repository-relative posix path of the test file
    func: str
    param: str | None

    @property
    def nodeid(self) -> str:
        return f"{self.file}::{self.func}" + (f"[{self.param}]" if self.param else "")

    def covers(self, nodeid: str) -> bool:
        """Whether a collected item's node id belongs to this reference."""
        base = f"{self.file}::{self.func}"
        return nodeid == self.nodeid if self.param else (nodeid == base or nodeid.startswith(base + "["))


_FUNCTIONS_CACHE: dict[tuple, dict[str, set[str]]] = {}


def _test_functions(root: Path) -> dict[str, set[str]]:
    """Every test file under ``root/tests`` -> the names of its module-level test functions."""
    paths = sorted((root / "tests").rglob("test_*.py"))
    key = (str(root.resolve()), tuple((str(p), p.stat().st_mtime_ns) for p in paths))
    if key not in _FUNCTIONS_CACHE:
        _FUNCTIONS_CACHE.clear()
        _FUNCTIONS_CACHE[key] = _parse_test_functions(root, paths)
    return _FUNCTIONS_CACHE[key]


def _parse_test_functions(root: Path, paths: list[Path]) -> dict[str, set[str]]:
    out = {}
    for path in paths:
        rel = path.relative_to(root).as_posix()
        if rel.startswith(EXCLUDED_TEST_DIRS) and not rel.startswith(EXTRA_HIDDEN_TESTS):
            continue
        try:
            tree = ast.parse(path.read_text())
        except SyntaxError:
            continue
        out[rel] = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test")}
    return out


def resolve(refs, root: Path) -> dict[str, Resolved]:
    """Test references -> where they are; a ValueError names every reference that matches no test or several."""
    files = _test_functions(Path(root))
    out, problems = {}, []
    for ref in refs:
        m = REF.match(ref)
        if not m:
            problems.append(f"{ref!r} is not 'name', 'file.py::name' or 'name[param]'")
            continue
        hits = [f for f, names in files.items() if m.group("func") in names
                and (m.group("file") is None or f == m.group("file") or f.endswith("/" + m.group("file")))]
        if len(hits) != 1:
            problems.append(f"{ref!r} matches {'no test' if not hits else 'several tests: ' + ', '.join(hits)}")
            continue
        out[ref] = Resolved(ref, hits[0], m.group("func"), m.group("param"))
    if problems:
        raise ValueError("test references in cs180utils/machinery/assignment/questions.py that do not resolve under "
                         f"{Path(root) / 'tests'} (a test was renamed or moved? update the table):\n  "
                         + "\n  ".join(problems))
    return out


# ---- running pytest -----------------------------------------------------------------------------------------

def _short(text: str, limit: int = 800) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _Recorder:
    """A pytest plugin: each item's outcome and failure message, each collection error, and a time limit."""

    def __init__(self, timeout_s: float | None):
        self.items: dict[str, dict] = {}
        self.collect_errors: dict[str, str] = {}
        self.timeout_s = timeout_s

    @staticmethod
    def _message(report) -> str:
        crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
        if crash is not None:
            return _short(crash.message)
        return _short(str(report.longrepr or ""))

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors[report.nodeid] = self._message(report) or "collection failed"

    def pytest_runtest_logreport(self, report):
        rec = self.items.setdefault(report.nodeid, {"outcome": "passed", "message": ""})
        if report.failed:
            rec["outcome"] = "failed" if report.when == "call" else "error"
            rec["message"] = rec["message"] or self._message(report)
        elif report.skipped and rec["outcome"] == "passed":
            rec["outcome"] = "skipped"
            rec["message"] = self._message(report)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        usable = (self.timeout_s and hasattr(signal, "SIGALRM")
                  and threading.current_thread() is threading.main_thread())
        if not usable:
            yield
            return

        def stop(signum, frame):
            raise TimeoutError(f"this test ran longer than {self.timeout_s:g} s")

        previous = signal.signal(signal.SIGALRM, stop)
        signal.setitimer(signal.ITIMER_REAL, self.timeout_s)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def run_tests(root: Path, nodeids: list[str], timeout_s: float | None = TEST_TIMEOUT_S,
              quiet: bool = True, maxfail: int | None = None) -> tuple[dict[str, dict], dict[str, str]]:
    """Run pytest node ids of the repository at ``root`` in this process (in the order given).

    Returns ``(items, collect_errors)``: node id -> {"outcome": passed|failed|error|skipped, "message"} and
    the collection errors by file. ``root`` goes first on ``sys.path`` (so ``cs180utils`` is its copy).
    Third-party pytest plugins are not loaded (the tests need none); ``maxfail`` stops after that many."""
    root = Path(root).resolve()
    if str(root) not in sys.path[:1]:
        sys.path.insert(0, str(root))
    rec = _Recorder(timeout_s)
    # (no:unraisableexception: its clean-up runs gc.collect five times, a second per run with torch loaded)
    args = ["-o", "addopts=", "-p", "no:cacheprovider", "-p", "no:unraisableexception", "--rootdir", str(root), "-W",
            "ignore::DeprecationWarning", "--tb=short", "-q",
            *([f"--maxfail={maxfail}"] if maxfail else []), *nodeids]
    cwd, autoload = os.getcwd(), os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    out = io.StringIO()
    try:
        os.chdir(root)
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        with contextlib.redirect_stdout(out) if quiet else contextlib.nullcontext():
            pytest.main(args, plugins=[rec])
    finally:
        os.chdir(cwd)
        if autoload is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = autoload
    return rec.items, rec.collect_errors


def outcomes_by_ref(resolved: dict[str, Resolved], items: dict[str, dict],
                    collect_errors: dict[str, str]) -> dict[str, dict]:
    """Per reference: passed (every item of it passed, and there was at least one) and a message."""
    out = {}
    for ref, r in resolved.items():
        mine = {nid: rec for nid, rec in items.items() if r.covers(nid)}
        if not mine:
            err = next((m for f, m in collect_errors.items() if f == r.file or r.file.startswith(f)), None)
            out[ref] = {"passed": False, "message": f"could not collect {r.nodeid}: {err}" if err
                        else f"{r.nodeid} was not collected"}
            continue
        bad = {nid: rec for nid, rec in mine.items() if rec["outcome"] != "passed"}
        if bad:
            nid, rec = next(iter(bad.items()))
            out[ref] = {"passed": False, "message": f"{nid} {rec['outcome']}: {rec['message']}"}
        else:
            out[ref] = {"passed": True, "message": f"{len(mine)} passed"}
    return out


def run_refs(root: Path, refs, timeout_s: float | None = TEST_TIMEOUT_S, maxfail: int | None = None
             ) -> dict[str, dict]:
    """Resolve test references under ``root``, run them once (in the order given), and report per reference;
    with ``maxfail``, the references not reached count as failed."""
    resolved = resolve(list(dict.fromkeys(refs)), root)
    items, errors = run_tests(root, list(dict.fromkeys(r.nodeid for r in resolved.values())), timeout_s,
                              maxfail=maxfail)
    return outcomes_by_ref(resolved, items, errors)


def require_passed(env: dict, ref: str) -> None:
    """An otter test case's body: fail with the test's message unless ``ref`` passed."""
    outcomes = env.get(OUTCOMES)
    if not isinstance(outcomes, dict) or "refs" not in outcomes:
        raise AssertionError("no test outcomes: the grading script did not run (see the autograder's output)")
    rec = outcomes["refs"].get(ref)
    if rec is None:
        raise AssertionError(f"{ref} was not run")
    if not rec["passed"]:
        raise AssertionError(rec["message"])


# ---- a submission -------------------------------------------------------------------------------------------

PRUNE = {"__pycache__", "site-packages", "node_modules", "dist", "runs", "data", "figures"}


def find_marked_files(submission: Path, wanted: list[str], skip: tuple[Path, ...] = (),
                      unzip: bool = False) -> dict[str, Path]:
    """The marked files in a submission folder: at their repository paths, or deeper (e.g. inside the
    repository's own folder; the shallowest wins), or, with ``unzip``, in zip files in the folder (extracted
    next to them: only for a scratch copy). Hidden folders, virtual environments and build outputs are not
    searched."""
    submission = Path(submission)
    if unzip:
        for z in sorted(submission.glob("*.zip")):
            target = submission / f"_unzipped_{z.stem}"
            if not target.exists():
                with zipfile.ZipFile(z) as zf:
                    for member in zf.namelist():   # only .py files under safe relative paths
                        p = Path(member)
                        if member.endswith(".py") and not p.is_absolute() and ".." not in p.parts:
                            zf.extract(member, target)
    skip = tuple(Path(s).resolve() for s in skip)
    found = {rel: submission / rel for rel in wanted if (submission / rel).is_file()
             and not any(s == (submission / rel).resolve() or s in (submission / rel).resolve().parents
                         for s in skip)}
    if len(found) == len(wanted):
        return found
    candidates: dict[str, list[Path]] = {}
    names = {Path(rel).name for rel in wanted if rel not in found}
    for dirpath, dirnames, filenames in os.walk(submission):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in PRUNE
                       and not any(s == (here / d).resolve() for s in skip)]
        for f in filenames:
            if f in names:
                candidates.setdefault(f, []).append(here / f)
    for rel in wanted:
        if rel in found:
            continue
        parts = Path(rel).parts
        hits = [p for p in candidates.get(parts[-1], []) if p.parts[-len(parts):] == parts]
        if hits:
            found[rel] = min(hits, key=lambda p: (len(p.parts), str(p)))
    return found


def grade_in_place(submission: Path, course: Path, timeout_s: float | None = TEST_TIMEOUT_S) -> dict:
    """The autograder's grading step (run in otter's kernel, in the submission folder): copy the submission's
    marked files into ``course`` and run every question's tests there once.

    Returns the outcomes the otter test files read: {"refs": {ref: {"passed", "message"}}, "files": {...}}."""
    course = Path(course).resolve()
    sys.path.insert(0, str(course))
    from cs180utils.machinery.assignment import questions as Q  # noqa: PLC0415  (the course's table, hidden tests included)

    wanted = Q.marked_files()
    found = find_marked_files(Path(submission), wanted, skip=(course,), unzip=True)
    for rel, src in found.items():
        shutil.copyfile(src, course / rel)
    refs = [r for q in Q.QUESTIONS for r, _ in Q.question_tests(q.id)]
    outcomes = run_refs(course, refs, timeout_s)
    report = {"refs": outcomes, "files": {rel: str(found[rel]) if rel in found else None for rel in wanted}}
    missing = [rel for rel in wanted if rel not in found]
    print(f"marked files found in the submission: {len(found)} of {len(wanted)}"
          + (f"; missing (graded as not done): {', '.join(missing)}" if missing else ""))
    return report


# ---- otter test files ---------------------------------------------------------------------------------------

def otter_test_source(qid: str, include_hidden: bool = True) -> str:
    """An otter-grader exception-based test file for one question: one case per test reference."""
    from cs180utils.machinery.assignment.questions import question, question_tests  # noqa: PLC0415

    q = question(qid)
    lines = [f'"""{q.id}: {q.title} (notebook {q.notebook}, {q.points} points). Generated by '
             f'cs180utils.machinery.assignment from questions.py; do not edit."""',
             "from otter.test_files import test_case", "", "OK_FORMAT = False", f"name = {q.id!r}",
             f"points = {q.points}", ""]
    for i, (ref, is_hidden) in enumerate(question_tests(qid, include_hidden), 1):
        lines += [f"@test_case(name={ref!r}, hidden={is_hidden})", f"def case_{i}(env):",
                  "    from cs180utils.machinery.assignment.grading import require_passed",
                  f"    require_passed(env, {ref!r})", ""]
    return "\n".join(lines)


def score_with_otter(outcomes: dict, qids=None, include_hidden: bool = True) -> dict[str, "object"]:
    """Score outcomes (``{"refs": ...}``) with the questions' otter test files, in this process.

    Returns question -> otter ``TestFile`` (``.score``, ``.possible``, ``.test_case_results``)."""
    from otter.test_files import ExceptionTestFile  # noqa: PLC0415

    from cs180utils.machinery.assignment.questions import QUESTIONS  # noqa: PLC0415

    env = {OUTCOMES: outcomes}
    out = {}
    for qid in qids or [q.id for q in QUESTIONS]:
        tf = ExceptionTestFile.from_string(otter_test_source(qid, include_hidden), path=f"{qid}.py")
        tf.run(env)
        out[qid] = tf
    return out


def points_table(files: dict[str, "object"]) -> tuple[str, dict]:
    """A per-question table of otter results and the JSON summary: score, max_score, points per question."""
    from cs180utils.machinery.assignment.questions import question  # noqa: PLC0415

    rows = [("question", "points", "public", "hidden", "first failure")]
    points = {}
    for qid, tf in files.items():
        res = tf.test_case_results
        pub = [r for r in res if not r.test_case.hidden]
        hid = [r for r in res if r.test_case.hidden]
        fail = next((r for r in res if not r.passed), None)
        why = _why(fail.message) if fail is not None else ""
        points[qid] = round(float(tf.score), 4)
        rows.append((qid, f"{_num(tf.score)}/{_num(tf.possible)}",
                     f"{sum(r.passed for r in pub)}/{len(pub)}",
                     f"{sum(r.passed for r in hid)}/{len(hid)}" if hid else "-", why))
        question(qid)  # an unknown question is a bug
    score = round(sum(float(tf.score) for tf in files.values()), 4)
    max_score = round(sum(float(tf.possible) for tf in files.values()), 4)
    rows.append(("total", f"{_num(score)}/{_num(max_score)}", "", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    text = "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + ("  " + r[4] if r[4] else "")
                     for r in rows)
    return text, {"score": score, "max_score": max_score, "points": points}


def _why(message: str | None) -> str:
    """The gist of an otter failure message: "not written yet" for a stub, else the test's error."""
    last = (message or "").strip().splitlines()[-1] if (message or "").strip() else ""
    last = re.sub(r"^AssertionError: ", "", last)
    last = re.sub(r"^\S+ (failed|error|skipped): ", "", last)
    if "TodoError: TODO" in last:
        return "not written yet (" + last.split("TodoError: TODO ", 1)[1].split(" ", 1)[0] + ")"
    return _short(last, 90)


def _num(x) -> str:
    x = float(x)
    return f"{x:g}" if abs(x - round(x)) < 1e-9 else f"{x:.2f}"


def dump_json(obj) -> str:
    return json.dumps(obj, sort_keys=False)
