"""The assignment edition's CI checks (issue 14), part of ``make test``:

(a) the instructor edition scores full marks with the autograder (otter run, no Docker);
(b) the untouched student edition scores zero on every question, and grading finishes;
(c) for every question, plausible wrong answers (tests/assignment/mutations.py) lose its points;
(d) the student notebooks run under nbval up to their first TODO, and stop there with its message;
plus the fast structural checks: markers, table and tests agree; the student edition holds no solution and no
hidden test; the TODO and check cells sit under their sections.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from cs180utils.machinery.assignment import build as B
from cs180utils.machinery.assignment import grading, markers
from cs180utils.machinery.assignment.questions import HIDDEN, QUESTIONS, marked_files, max_score, question_tests
from cs180utils.machinery.assignment.todo import TodoError, todo

ROOT = Path(__file__).resolve().parents[2]


def _env(pythonpath: Path, **extra) -> dict:
    return dict(os.environ, PYTHONPATH=str(pythonpath), CS180_PROFILE="smoke", **extra)


def _last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> Path:
    return B.build(ROOT, tmp_path_factory.mktemp("assignment") / "student")


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    from cs180utils.machinery.assignment.autograder import make_autograder

    return make_autograder(ROOT, tmp_path_factory.mktemp("autograder") / "autograder.zip")


# ---- fast: the table, the markers, the editions ---------------------------------------------------------------

def test_questions_markers_and_tests_agree():
    found = B.check_markers(ROOT)          # raises if a part has no block or a block no part
    functions = {f"{rel}::{b.function}" for rel, bs in found.items() for b in bs}
    assert 15 <= len(functions) <= 25, sorted(functions)
    assert sorted(found) == marked_files()
    assert {q.notebook for q in QUESTIONS} >= {f"{i:02d}" for i in range(1, 10)}   # every part has a question
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS) and max_score() == sum(q.points for q in QUESTIONS)
    for q in QUESTIONS:
        assert q.public and HIDDEN.get(q.id), f"{q.id} needs public and hidden tests"
    grading.resolve([r for q in QUESTIONS for r, _ in question_tests(q.id)], ROOT)   # every reference names one test


def test_a_stub_says_what_to_write_and_where_without_a_traceback():
    e = todo("volrend", "render_weights")
    assert isinstance(e, NotImplementedError) and isinstance(e, TodoError)
    msg = str(e)
    for part in ("TODO volrend", "notebook 03", "1. Volume rendering, checked against the course",
                 "cs180utils/nerf/rendering.py", "T_i = exp(-sum_{j<i} sigma_j delta_j)", "check volrend"):
        assert part in msg, part
    lines = e._render_traceback_()          # what Jupyter shows instead of the traceback
    assert "TodoError" in lines[0] and "Traceback" not in "".join(lines)
    assert "write composite" in str(todo("volrend", "composite"))


def test_the_student_edition_has_stubs_not_solutions(student):
    for rel in marked_files():
        original, text = (ROOT / rel).read_text(), (student / rel).read_text()
        blocks = markers.blocks(original, rel)
        assert not markers.has_blocks(text) and text.count("raise todo(") == len(blocks), rel
        compile(text, rel, "exec")
        lines = original.split("\n")
        inside = {i for b in blocks for i in range(b.begin + 1, b.end)}
        outside = {lines[i].strip() for i in range(len(lines)) if i not in inside}
        student_code = {ln.strip() for ln in text.split("\n") if not ln.strip().startswith("#")}
        leaked = [lines[i].strip() for i in sorted(inside) if len(lines[i].strip()) >= 12
                  and not lines[i].strip().startswith("#") and lines[i].strip() not in outside
                  and lines[i].strip() in student_code]
        assert not leaked, f"{rel}: solution lines in the student edition: {leaked}"
    assert (student / "ASSIGNMENT.md").is_file() and (student / "notebooks").is_dir()
    assert not (student / "tests" / "assignment").exists() and not (student / ".ci").exists()


def test_the_student_edition_ships_no_hidden_test(student):
    env: dict = {}
    exec((student / "cs180utils/machinery/assignment/questions.py").read_text(), env)
    assert env["HIDDEN"] == {} and "BEGIN HIDDEN" not in (student / "cs180utils/machinery/assignment/questions.py").read_text()
    public = {r for q in QUESTIONS for r in q.public}
    res = grading.resolve(sorted(public | {r for refs in HIDDEN.values() for r in refs}), ROOT)
    public_funcs = {(res[r].file, res[r].func) for r in public}
    for ref in {r for refs in HIDDEN.values() for r in refs}:
        r = res[ref]
        text = (student / r.file).read_text() if (student / r.file).exists() else ""
        if (r.file, r.func) not in public_funcs:
            assert f"def {r.func}(" not in text, f"hidden test {ref} shipped in {r.file}"
    for ref in public:   # the public ones are all there
        assert f"def {res[ref].func}(" in (student / res[ref].file).read_text()


def test_todo_cells_follow_the_tagged_heading_whatever_it_says():
    """A staff edit of a heading's words moves no TODO cell: they go under the cell tagged question-<id>."""
    nb = json.loads(B.notebook_path(ROOT, "02").read_text())
    for c in nb["cells"]:
        if c["cell_type"] == "markdown" and B._heading(c) is not None:
            c["source"] = "## Reworded by the staff\n\nnew prose"
    out = B.student_notebook(nb, "02")
    ids = [c.get("id") for c in out["cells"]]
    for q in (q for q in QUESTIONS if q.notebook == "02"):
        i = ids.index(f"todo-{q.id}")
        tagged = max(j for j in range(i) if B.section_tag(q.id) in out["cells"][j]["metadata"].get("tags", []))
        assert all(str(ids[j]).startswith(("todo-", "check-")) for j in range(tagged + 1, i)), q.id
    del nb["cells"][[k for k, c in enumerate(nb["cells"])
                     if B.section_tag("sampling") in c["metadata"].get("tags", [])][0]]["metadata"]["tags"]
    with pytest.raises(ValueError, match="0 cells tagged 'question-sampling'"):
        B.student_notebook(nb, "02")


def test_student_notebooks_have_a_todo_and_a_check_cell_under_each_question(student):
    for q in QUESTIONS:
        path = B.notebook_path(student, q.notebook)
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        ids = [c.get("id") for c in nb.cells]
        i = ids.index(f"check-{q.id}")
        assert ids[i - 1] == f"todo-{q.id}" and f"check({q.id!r})" in nb.cells[i].source
        heading = max(j for j in range(i) if B._heading(nb.cells[j]) is not None)   # the section they are in
        assert B.section_tag(q.id) in nb.cells[heading].metadata.get("tags", []), (q.id, nb.cells[heading].source)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


# ---- slow: grading, mutations, notebooks ----------------------------------------------------------------------

def test_autograder_full_marks_for_the_instructor_edition_zero_for_the_student_edition(student, autograder_zip,
                                                                                    capsys):
    from cs180utils.machinery.assignment.autograder import grade

    t0 = time.perf_counter()
    text, summary = grade(ROOT, autograder_zip)                                   # (a)
    assert summary["score"] == summary["max_score"] == max_score(), text
    assert summary["points"] == {q.id: q.points for q in QUESTIONS} and not summary["missing"], text
    t1 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cs180utils.machinery.assignment", "grade", str(student),   # (b), the CLI
                           "--autograder", str(autograder_zip)], cwd=ROOT, env=_env(ROOT),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = _last_json(proc.stdout)
    assert result["score"] == 0 and result["max_score"] == max_score(), proc.stdout
    assert result["points"] == {q.id: 0 for q in QUESTIONS}, proc.stdout
    assert "not written yet" in proc.stdout
    with capsys.disabled():
        print(f"\n  [assignment] grading: instructor {t1 - t0:.0f} s, student {time.perf_counter() - t1:.0f} s")


def test_every_plausible_wrong_answer_loses_its_questions_points(capsys):          # (c)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cs180utils.machinery.assignment.mutate", "tests/assignment/mutations.py"],
                          cwd=ROOT, env=_env(ROOT), capture_output=True, text=True)
    result = _last_json(proc.stdout)
    assert not result["not_caught"], proc.stdout
    assert not result["questions_without_mutation"], result["questions_without_mutation"]
    assert proc.returncode == 0 and result["caught"] == result["mutations"] >= len(QUESTIONS)
    with capsys.disabled():
        print(f"\n  [assignment] {result['mutations']} mutations, all caught, {time.perf_counter() - t0:.0f} s")


def test_student_notebooks_run_up_to_their_first_todo(student, tmp_path, capsys):   # (d)
    t0 = time.perf_counter()
    report = tmp_path / "todo.json"
    env = _env(student, CS180_TODO_REPORT=str(report), CS180_RUNS_DIR=str(tmp_path / "runs"),
               CS180_FIGURES_DIR=str(tmp_path / "figures"))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "cs180utils.machinery.assignment.nbval_todo", "--nbval-lax",
                           "-o", "addopts=", "-p", "no:cacheprovider", "-q", "notebooks"],
                          cwd=student, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-5000:]
    stops = json.loads(report.read_text())
    assert sorted(stops) == sorted(p.name for p in (student / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for name, nb in stops.items():
        assert nb["stopped_at"] is not None, f"{name} ran to its end without needing a student's function"
        assert not nb["failed_cells"] and nb["cells_passed"] >= 3, (name, nb)
        assert nb["stopped_at"]["question"] in {q.id for q in QUESTIONS}
    with capsys.disabled():
        print(f"\n  [assignment] student notebooks up to their first TODO: {time.perf_counter() - t0:.0f} s")
