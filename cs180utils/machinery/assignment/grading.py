"""Grading: each question's answers run in a limited process of their own, their outputs judged outside it.

The pieces, in the order a grade is made:

- ``find_marked_files`` finds the graded files in a submission (a student's clone, a zip of it, or the zip
  ``make submission`` writes); ``safe_unzip`` refuses traversal, absolute and link entries in one line and
  ignores, with a note, every entry that is not a graded file.
- ``grade_files`` grades every question on its own: for question ``q`` it writes a copy of the course's
  package in which only ``q``'s answers (the lines between its markers) come from the submission, every
  other question keeping the reference solution (``markers.splice``), runs ``q``'s probes there in a limited
  process (``sandbox``) on a seed drawn now, and judges their outputs here (``cases.judge``: the plain-words
  expectation and the reference's outputs on the same seed). Code outside the markers is never run.
- ``otter_test_source`` writes a question as an otter test file (one test case per check, the question's points
  shared by them, hidden ones flagged); each case only looks up its verdict (``require_passed``), so a
  student's ``check`` and the autograder show the same checks the same way.

``cs180utils.machinery.assignment.autograder`` assembles the Gradescope zip and grades a submission with ``otter run``.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

OUTCOMES = "CS180_OUTCOMES"     # the name of the outcomes in the grading kernel's globals


class SubmissionError(ValueError):
    """A submission that cannot be graded at all (not a zip, a hostile entry); the message is one line."""


def require_passed(env: dict, qid: str, name: str) -> None:
    """An otter test case's body: fail with the check's message unless check ``name`` of ``qid`` passed."""
    outcomes = env.get(OUTCOMES)
    if not isinstance(outcomes, dict) or "cases" not in outcomes:
        raise AssertionError("no outcomes: the grading script did not run (see the autograder's output)")
    rec = outcomes["cases"].get(qid, {}).get(name)
    if rec is None:
        raise AssertionError(f"{qid}: {name}: was not run")
    if not rec["passed"]:
        raise AssertionError(rec["message"])


# ---- a submission -------------------------------------------------------------------------------------------

PRUNE = {"__pycache__", "site-packages", "node_modules", "dist", "runs", "data", "figures"}


def find_marked_files(submission: Path, wanted: list[str]) -> dict[str, Path]:
    """The marked files in a submission folder: at their repository paths, or deeper (e.g. inside the
    repository's own folder; the shallowest wins). Hidden folders, virtual environments and build outputs are
    not searched."""
    submission = Path(submission)
    found = {rel: submission / rel for rel in wanted if (submission / rel).is_file()}
    if len(found) == len(wanted):
        return found
    candidates: dict[str, list[Path]] = {}
    names = {Path(rel).name for rel in wanted if rel not in found}
    for dirpath, dirnames, filenames in os.walk(submission):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in PRUNE]
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


def safe_unzip(zip_path: Path, dest: Path, wanted: list[str]) -> list[str]:
    """Extract from ``zip_path`` into ``dest`` only the entries that are graded files (at their repository
    paths, or deeper: a zip of the repository folder). Returns notes on what was ignored. An entry with an
    absolute path, a ``..`` part or a link raises SubmissionError (one line); so does a file that is not a zip."""
    zip_path = Path(zip_path)
    if not zip_path.is_file():
        raise SubmissionError(f"no submission at {zip_path}: give the repository folder or a zip "
                              f"(make submission writes one)")
    if not zipfile.is_zipfile(zip_path):
        raise SubmissionError(f"{zip_path} is not a zip file: give the zip that make submission writes, or the "
                              f"repository folder")
    names = {Path(w).name for w in wanted}
    ignored = []
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            n = info.filename
            p = Path(n)
            kind = (info.external_attr >> 16) & 0o170000
            if n.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", n) or ".." in p.parts or "\\" in n:
                raise SubmissionError(f"refused {zip_path.name}: its entry {n!r} points outside the submission "
                                      f"(an absolute path or '..'); zip the files again with make submission")
            if kind == stat.S_IFLNK:
                raise SubmissionError(f"refused {zip_path.name}: its entry {n!r} is a symbolic link; zip the "
                                      f"files themselves (make submission)")
            if info.is_dir():
                continue
            graded = p.name in names and any(n == w or n.endswith("/" + w) for w in wanted)
            if not graded or info.file_size > (4 << 20):
                ignored.append(n)
                continue
            target = Path(dest) / n
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
    notes = []
    if ignored:
        shown = ", ".join(ignored[:8]) + (f" and {len(ignored) - 8} more" if len(ignored) > 8 else "")
        one = len(ignored) == 1
        notes.append(f"ignored {len(ignored)} {'entry that is not a graded file' if one else 'entries that are not graded files'}: "
                     f"{shown}")
    return notes


def read_submission(submission: Path, wanted: list[str]) -> tuple[dict[str, str], list[str]]:
    """The text of every graded file of a submission (folder or zip), and notes (what was ignored or is
    missing). Raises SubmissionError for a path that is missing or not a zip, or a hostile zip."""
    submission = Path(submission)
    if submission.is_dir():
        return _read_found(find_marked_files(submission, wanted), wanted, [])
    with tempfile.TemporaryDirectory(prefix="cs180-submission-") as tmp:
        notes = safe_unzip(submission, Path(tmp), wanted)
        return _read_found(find_marked_files(Path(tmp), wanted), wanted, notes)


def _read_found(found: dict[str, Path], wanted: list[str], notes: list[str]) -> tuple[dict[str, str], list[str]]:
    """The texts of the graded files ``found`` (links and unreadable files left out, with a note), and ``notes``
    with what is missing."""
    texts = {}
    for rel, path in found.items():
        if path.is_symlink():
            notes.append(f"{rel}: a symbolic link, not graded")
            continue
        try:
            texts[rel] = path.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            notes.append(f"{rel}: could not be read ({e.strerror})")
    missing = [rel for rel in wanted if rel not in texts]
    if missing:
        notes.append(f"not in the submission (graded as not done): {', '.join(missing)}")
    return texts, notes


def clean_submission_folder(folder: str | Path) -> list[str]:
    """Leave in ``folder`` (Gradescope's unzipped submission) only its graded files, at their repository paths;
    everything else (a notebook, a script, a zip) is removed, with a note in ``cs180_notes.txt``. Returns the
    notes. Otter then finds nothing of the student's to execute: it runs the autograder's own script."""
    from cs180utils.machinery.assignment.questions import marked_files  # noqa: PLC0415

    folder = Path(folder)
    found = find_marked_files(folder, marked_files())
    texts, notes = _read_found(found, marked_files(), [])
    kept = {p.resolve() for p in found.values()}
    others = [p.relative_to(folder).as_posix() for p in folder.rglob("*")
              if (p.is_file() or p.is_symlink()) and p.resolve() not in kept]
    for child in list(folder.iterdir()):
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    for rel, text in texts.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    if others:
        notes.insert(0, f"ignored {len(others)} file(s) that are not graded files: {', '.join(sorted(others)[:8])}"
                     + (" ..." if len(others) > 8 else ""))
    (folder / "cs180_notes.txt").write_text("\n".join(notes) + "\n")
    print("\n".join(notes))
    return notes


def question_tree(course: Path, texts: dict[str, str], qid: str, dest: Path) -> Path:
    """``dest`` with a copy of the course's package in which question ``qid``'s answers come from ``texts``
    (graded files by path). Raises MarkerError / SyntaxError / FileNotFoundError with a reason."""
    from cs180utils.machinery.assignment import markers  # noqa: PLC0415
    from cs180utils.machinery.assignment.questions import question  # noqa: PLC0415

    course = Path(course)
    shutil.copytree(course / "cs180utils", dest / "cs180utils",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for rel in sorted({k.split("::")[0] for k in question(qid).parts}):
        if rel not in texts:
            raise FileNotFoundError(f"{rel} is not in the submission")
        spliced = markers.splice((course / rel).read_text(), texts[rel], qid, rel)
        (dest / rel).write_text(spliced)
    return dest


def untouched(texts: dict[str, str], qid: str) -> bool:
    """Whether every answer of ``qid`` in ``texts`` is still the stub (``raise todo(...)`` and comments)."""
    from cs180utils.machinery.assignment import markers  # noqa: PLC0415
    from cs180utils.machinery.assignment.questions import question  # noqa: PLC0415

    for rel in {k.split("::")[0] for k in question(qid).parts}:
        try:
            found = [a for a in markers.answers(texts.get(rel, ""), rel).values() if a.qid == qid]
        except (SyntaxError, markers.MarkerError):
            return False
        code = [ln.strip() for a in found for ln in a.lines if ln.strip() and not ln.strip().startswith("#")]
        if not found or not all(ln.startswith(f"raise todo({qid!r}") for ln in code):
            return False
    return True


def grade_files(texts: dict[str, str], course: Path, seed: int | None = None, qids=None,
                timeout_s: float | None = None) -> dict:
    """Grade every question (or ``qids``) of a submission given as ``texts`` (graded files by path) against the
    course's package at ``course`` (the reference solutions; imported here). Returns
    {"cases": {qid: {check name: {"passed", "message"}}}, "seed", "reasons": {qid: why a question got 0}}."""
    from cs180utils.machinery.assignment import cases as C  # noqa: PLC0415
    from cs180utils.machinery.assignment import sandbox  # noqa: PLC0415
    from cs180utils.machinery.assignment.markers import MarkerError  # noqa: PLC0415
    from cs180utils.machinery.assignment.questions import QUESTIONS  # noqa: PLC0415

    seed = secrets.randbelow(2 ** 31) if seed is None else int(seed)
    timeout_s = sandbox.TIMEOUT_S if timeout_s is None else timeout_s
    course = Path(course).resolve()
    if sandbox.is_root():
        os.chmod(course, 0o700)    # the reference solutions: root alone reads them while students' code runs
    outcomes: dict = {"cases": {}, "seed": seed, "reasons": {}}
    with tempfile.TemporaryDirectory(prefix="cs180-grade-") as tmp:
        for index, q in enumerate(QUESTIONS):
            if qids is not None and q.id not in qids:
                continue
            mine = C.cases(q.id)
            if untouched(texts, q.id):   # the stub as handed out: nothing to run
                outcomes["cases"][q.id] = {c.name: {"passed": False, "message": "not written yet"} for c in mine}
                continue
            try:
                tree = question_tree(course, texts, q.id, Path(tmp) / q.id)
                results = sandbox.run_question(tree, q.id, index, seed, timeout_s)
                reason = None
            except (MarkerError, SyntaxError, FileNotFoundError, sandbox.SandboxError) as e:
                reason = (f"syntax error in your answer: {e.msg} (line {e.lineno})" if isinstance(e, SyntaxError)
                          else str(e))
                results = {}
            finally:
                shutil.rmtree(Path(tmp) / q.id, ignore_errors=True)
            verdicts = {}
            for c in mine:
                rec = results.get(c.name)
                if reason is not None:
                    why = reason
                elif rec is None:
                    why = "no output (the question's process skipped this check)"
                elif "error" in rec:
                    why = rec["error"]
                else:
                    why = C.judge(c, rec["out"], seed, C.decode(C.encode(C.run_probe(c, seed))))
                verdicts[c.name] = {"passed": why is None, "message": why or "passed"}
            outcomes["cases"][q.id] = verdicts
            if reason is not None:
                outcomes["reasons"][q.id] = reason
    return outcomes


def grade_in_place(submission: Path, course: Path) -> dict:
    """The autograder's grading step (run in otter's kernel, in the submission folder): grade the graded files
    found there against ``course``. Returns the outcomes the otter test files read."""
    from cs180utils.machinery.assignment.questions import marked_files  # noqa: PLC0415

    texts, notes = read_submission(Path(submission), marked_files())
    outcomes = grade_files(texts, course)
    outcomes["notes"] = notes
    print("\n".join(notes) or f"graded files found: {len(texts)} of {len(marked_files())}")
    for qid, why in outcomes["reasons"].items():
        print(f"{qid}: 0 points: {why}")
    return outcomes


# ---- otter test files ---------------------------------------------------------------------------------------

def otter_test_source(qid: str, include_hidden: bool = True) -> str:
    """An otter-grader exception-based test file for one question: one case per check (``cases.py``)."""
    from cs180utils.machinery.assignment.cases import cases  # noqa: PLC0415
    from cs180utils.machinery.assignment.questions import question  # noqa: PLC0415

    q = question(qid)
    lines = [f'"""{q.id}: {q.title} (notebook {q.notebook}, {q.points} points). Generated by '
             f'cs180utils.machinery.assignment from cases.py; do not edit."""',
             "from otter.test_files import test_case", "", "OK_FORMAT = False", f"name = {q.id!r}",
             f"points = {q.points}", ""]
    for i, c in enumerate(cases(qid, None if include_hidden else False), 1):
        lines += [f"@test_case(name={c.name!r}, hidden={c.hidden})", f"def case_{i}(env):",
                  "    from cs180utils.machinery.assignment.grading import require_passed",
                  f"    require_passed(env, {qid!r}, {c.name!r})", ""]
    return "\n".join(lines)


def score_with_otter(outcomes: dict, qids=None, include_hidden: bool = True) -> dict[str, "object"]:
    """Score outcomes (``{"cases": ...}``) with the questions' otter test files, in this process.

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


def _short(text: str, limit: int = 800) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _why(message: str | None) -> str:
    """The gist of an otter failure message (its last line)."""
    last = (message or "").strip().splitlines()[-1] if (message or "").strip() else ""
    last = re.sub(r"^AssertionError: ", "", last)
    last = re.sub(r"^\S+ (failed|error|skipped): ", "", last)
    return _short(last, 90)


def _num(x) -> str:
    x = float(x)
    return f"{x:g}" if abs(x - round(x)) < 1e-9 else f"{x:.2f}"


def dump_json(obj) -> str:
    return json.dumps(obj, sort_keys=False)
