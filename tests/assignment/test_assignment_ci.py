"""The assignment edition's CI checks (issues 14 and 31), part of ``make test``:

- the table, the markers and the checks agree; a stub says what to write; the student edition holds stubs
  between START/END lines, no hidden check, no instructor test, and TODO/check cells under their sections;
- ``check()`` runs in the notebook's own process, reports plainly (HTML escaped), and is fast; the student
  edition's ``make test`` is its progress table;
- the autograder: full marks for the instructor edition, zero for the untouched student edition (otter run);
- every question graded on its own: a submission with only that question solved scores exactly its points;
- every planted wrong answer (tests/assignment/mutations.py) fails a public check with a plain message;
- a table of attacks by a submission, each with the score it must get;
- the student notebooks run under nbval up to their first TODO, and stop there with its message.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from cs180utils.machinery.assignment import build as B
from cs180utils.machinery.assignment import cases as C
from cs180utils.machinery.assignment import grading, markers, sandbox
from cs180utils.machinery.assignment.questions import QUESTIONS, marked_files, max_score, question
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
def course(tmp_path_factory) -> Path:
    """The autograder's copy of the course (reference solutions), as grading sees it."""
    return B.build(ROOT, tmp_path_factory.mktemp("course") / "course", "course")


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    from cs180utils.machinery.assignment.autograder import make_autograder

    return make_autograder(ROOT, tmp_path_factory.mktemp("autograder") / "autograder.zip")


@pytest.fixture(scope="module")
def stubs(student) -> dict[str, str]:
    return {rel: (student / rel).read_text() for rel in marked_files()}


def solved(stubs: dict[str, str], *qids: str, answer: dict | None = None) -> dict[str, str]:
    """The student edition's graded files with the instructor's answers of ``qids`` written in (or, for one
    question, ``answer``: function -> [lines per region])."""
    out = dict(stubs)
    for qid in qids:
        for rel in {k.split("::")[0] for k in question(qid).parts}:
            if answer is not None:
                by_function = answer
            else:
                by_function = {}
                found = markers.answers((ROOT / rel).read_text(), rel)
                for (q, function, _), a in sorted(found.items(), key=lambda kv: kv[0][2]):
                    if q == qid:
                        by_function.setdefault(function, []).append(a.lines)
            out[rel] = markers.fill(out[rel], qid, by_function, rel)
    return out


def points(outcomes: dict, qid: str) -> float:
    verdicts = outcomes["cases"][qid]
    return question(qid).points * sum(v["passed"] for v in verdicts.values()) / len(verdicts)


# ---- fast: the table, the markers, the checks, the editions ----------------------------------------------------

def test_questions_markers_and_checks_agree():
    found = B.check_markers(ROOT)          # raises if a part has no block or a block no part
    functions = {f"{rel}::{b.function}" for rel, bs in found.items() for b in bs}
    assert 15 <= len(functions) <= 25, sorted(functions)
    assert sorted(found) == marked_files()
    assert {q.notebook for q in QUESTIONS} >= {f"{i:02d}" for i in range(1, 10)}   # every part has a question
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS) and max_score() == sum(q.points for q in QUESTIONS)
    for q in QUESTIONS:
        mine = C.cases(q.id)
        assert C.cases(q.id, hidden=False) and C.cases(q.id, hidden=True), f"{q.id} needs public and hidden checks"
        assert len({c.name for c in mine}) == len(mine), q.id
        assert all(c.expect is not None for c in mine if not c.hidden), f"{q.id}: a public check needs its words"
    assert {c.qid for c in C.CASES} == {q.id for q in QUESTIONS}


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


def test_the_student_edition_has_stubs_between_start_and_end_lines_not_solutions(student):
    for rel in marked_files():
        original, text = (ROOT / rel).read_text(), (student / rel).read_text()
        blocks = markers.blocks(original, rel)
        assert not markers.has_blocks(text) and text.count("raise todo(") == len(blocks), rel
        assert text.count("START OF YOUR CODE") == text.count("END OF YOUR CODE") == len(blocks), rel
        compile(text, rel, "exec")
        lines = original.split("\n")
        inside = {i for b in blocks for i in range(b.begin + 1, b.end)}
        outside = {lines[i].strip() for i in range(len(lines)) if i not in inside}
        student_code = {ln.strip() for ln in text.split("\n") if not ln.strip().startswith("#")}
        leaked = [lines[i].strip() for i in sorted(inside) if len(lines[i].strip()) >= 12
                  and not lines[i].strip().startswith("#") and lines[i].strip() not in outside
                  and lines[i].strip() in student_code]
        assert not leaked, f"{rel}: solution lines in the student edition: {leaked}"
        # the student edition's regions hold exactly the stubs: grading sees them as not written
    assert all(grading.untouched({rel: (student / rel).read_text() for rel in marked_files()}, q.id)
               for q in QUESTIONS)
    assert (student / "ASSIGNMENT.md").is_file() and (student / "notebooks").is_dir()
    assert not (student / "tests").exists() and not (student / ".ci").exists()


def test_the_student_edition_ships_no_hidden_check(student):
    text = (student / "cs180utils/machinery/assignment/cases.py").read_text()
    assert "# BEGIN HIDDEN" not in text and "hidden=True" not in text
    proc = subprocess.run([sys.executable, "-c", "from cs180utils.machinery.assignment import cases as C; "
                           "print(len(C.cases(hidden=True)), len(C.cases(hidden=False)))"],
                          cwd=student, env=_env(student), capture_output=True, text=True)
    assert proc.stdout.split() == ["0", str(len(C.cases(hidden=False)))], proc.stderr[-2000:]


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


def test_a_course_tree_needs_solutions(student, tmp_path):
    with pytest.raises(ValueError, match="holds no solutions"):
        B.build(student, tmp_path / "course", "course")


# ---- check() and the student's make test --------------------------------------------------------------------

CHECK_SCRIPT = """
import json, statistics, sys, time
from cs180utils.machinery.assignment import check
from cs180utils.machinery.assignment.questions import QUESTIONS
times, states = [], {}
for q in QUESTIONS:
    t0 = time.perf_counter()
    r = check(q.id)
    times.append(time.perf_counter() - t0)
    states[q.id] = r.summary["states"][q.id]
    html = r._repr_html_()
    assert "<script" not in html
print(json.dumps({"states": states, "median": statistics.median(times), "max": max(times),
                  "text": repr(check("pe")), "html": check("pe")._repr_html_()}))
"""


def _copy_with(student: Path, dest: Path, texts: dict[str, str]) -> Path:
    shutil.copytree(student, dest)
    for rel, text in texts.items():
        (dest / rel).write_text(text)
    return dest


def test_check_runs_in_process_says_what_is_wrong_plainly_and_is_fast(student, stubs, tmp_path, capsys):
    # a student who wrote everything right, but PE without pi (the mistake the old public test let through)
    texts = solved(stubs, *[q.id for q in QUESTIONS])
    rel = "cs180utils/encodings.py"
    assert "math.pi" in texts[rel]
    texts[rel] = texts[rel].replace(") * math.pi", ")")
    work = _copy_with(student, tmp_path / "s", texts)
    proc = subprocess.run([sys.executable, "-c", CHECK_SCRIPT], cwd=work, env=_env(work),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = _last_json(proc.stdout)
    assert r["states"] == {q.id: "failing" if q.id == "pe" else "passing" for q in QUESTIONS}, r["states"]
    for words in ("PE of x = 0.25 with L = 2", "expected [0.25, 0.7071", "got [0.25, 0.2474"):
        assert words in r["text"], r["text"]
    for bad in ("Traceback", "\x1b[", "require_passed", "Use -v", "assert "):
        assert bad not in r["text"] and bad not in r["html"], bad
    # the message holds "<" nowhere here; a planted one is escaped in the HTML
    from cs180utils.machinery.assignment.checking import CheckReport, Result
    report = CheckReport({"pe": [Result("pe", "x < y", False, "expected a < b, got <script>", None)]}, 0.1)
    assert "<script>" not in report._repr_html_() and "&lt;script&gt;" in report._repr_html_()
    assert r["median"] < 5.0, r
    with capsys.disabled():
        print(f"\n  [assignment] one check(): median {r['median']:.2f} s, slowest {r['max']:.2f} s (in-process)")


def test_the_student_make_test_is_a_progress_table(student, tmp_path, capsys):
    assert "\t$(PY) -m cs180utils.machinery.assignment progress" in (student / "Makefile").read_text()
    assert "pytest tests" not in (student / "Makefile").read_text().split("\ntest:")[1].split("\n\n")[0]
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cs180utils.machinery.assignment", "progress"], cwd=student,
                          env=_env(student), capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = _last_json(proc.stdout)
    assert out["score"] == 0 and out["states"]["pe"] == "not written" and out["states"]["depth"] == "needs volrend"
    assert "question" in proc.stdout and "not written" in proc.stdout and "Traceback" not in proc.stdout
    assert seconds < 60, seconds
    with capsys.disabled():
        print(f"\n  [assignment] the student's make test (progress): {seconds:.1f} s")


def test_the_student_edition_readme_and_assignment_are_the_students(student):
    text = (student / "ASSIGNMENT.md").read_text()
    for heading in ("## Set up", "## Which profile", "## The order to work in", "## Write your answer between the "
                    "START and END lines", "## Check your work", "## Submit"):
        assert heading in text, heading
    for nb in B.NOTEBOOK_SECONDS:   # each notebook's row: its questions and the minutes it takes
        row = next(ln for ln in text.splitlines() if ln.startswith(f"| {nb} |"))
        assert "min |" in row and all(f"`{q.id}`" in row for q in QUESTIONS if q.notebook == nb), row
    readme = (student / "README.md").read_text()
    assert "start with [ASSIGNMENT.md](ASSIGNMENT.md)" in readme
    for gone in ("## Assignment edition", "## Development", "CI runs exactly", "(#assignment-edition)"):
        assert gone not in readme, gone
    assert "prints every question of ASSIGNMENT.md" in readme


# ---- grading ----------------------------------------------------------------------------------------------------

def test_autograder_full_marks_for_the_instructor_edition_zero_for_the_student_edition(student, autograder_zip,
                                                                                    capsys):
    from cs180utils.machinery.assignment.autograder import grade

    t0 = time.perf_counter()
    text, summary = grade(ROOT, autograder_zip)
    assert summary["score"] == summary["max_score"] == max_score(), text
    assert summary["points"] == {q.id: q.points for q in QUESTIONS} and not summary["missing"], text
    t1 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cs180utils.machinery.assignment", "grade", str(student),
                           "--autograder", str(autograder_zip)], cwd=ROOT, env=_env(ROOT),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = _last_json(proc.stdout)
    assert result["score"] == 0 and result["max_score"] == max_score(), proc.stdout
    assert result["points"] == {q.id: 0 for q in QUESTIONS}, proc.stdout
    assert "not written yet" in proc.stdout
    with capsys.disabled():
        print(f"\n  [assignment] grading: instructor {t1 - t0:.0f} s, student {time.perf_counter() - t1:.0f} s")


def test_every_question_alone_scores_exactly_its_points(stubs, course, capsys):
    """A submission with only question q solved: q gets its points (its checks use the reference of every other
    question), and every other question's graded copy is exactly the one of the untouched edition (0 points)."""
    t0 = time.perf_counter()
    import tempfile
    for q in QUESTIONS:
        texts = solved(stubs, q.id)
        out = grading.grade_files(texts, course, qids=[q.id])
        assert points(out, q.id) == q.points, (q.id, out["cases"][q.id], out["reasons"])
        for r in QUESTIONS:
            if r.id == q.id:
                continue
            assert grading.untouched(texts, r.id), (q.id, r.id)   # not run, not written: 0 points
    # and the other way round: everything solved but q, and q untouched scores 0 for q and full for the rest
    texts = solved(stubs, *[q.id for q in QUESTIONS if q.id != "volrend"])
    with tempfile.TemporaryDirectory() as tmp:
        tree = grading.question_tree(course, texts, "depth", Path(tmp) / "t")
        assert "raise todo" not in (tree / "cs180utils/nerf/rendering.py").read_text().split("def composite")[1] \
            .split("# BEGIN SOLUTION depth")[0]   # depth's checks run the reference volume rendering
    out = grading.grade_files(texts, course, qids=["depth", "volrend"])
    assert points(out, "depth") == 2 and points(out, "volrend") == 0, out
    with capsys.disabled():
        print(f"\n  [assignment] every question alone: {time.perf_counter() - t0:.0f} s")


def test_every_plausible_wrong_answer_fails_a_public_check(capsys):
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cs180utils.machinery.assignment.mutate",
                           "tests/assignment/mutations.py"], cwd=ROOT, env=_env(ROOT), capture_output=True, text=True)
    result = _last_json(proc.stdout)
    assert not result["not_caught"], proc.stdout
    assert not result["questions_without_mutation"], result["questions_without_mutation"]
    assert proc.returncode == 0 and result["caught_public"] == result["caught"] == result["mutations"] >= len(QUESTIONS)
    for rec in result["records"]:
        msg = rec["public_message"]
        assert "Traceback" not in msg and "\x1b[" not in msg, rec
    with capsys.disabled():
        print(f"\n  [assignment] {result['mutations']} mutations, every one failed a public check, "
              f"{time.perf_counter() - t0:.0f} s")


# ---- attacks: what a submission's code does, and the score it must get -------------------------------------------

PE = "cs180utils/encodings.py"
PE_RIGHT = markers.answers((ROOT / PE).read_text(), PE)[("pe", "positional_encoding", 0)].lines   # the instructor's


def _pe(*lines: str) -> dict:
    return {"positional_encoding": [list(lines)]}


WRONG = "return torch.zeros(x.shape[:-1] + (x.shape[-1] * (2 * num_freqs + 1),))"
ATTACKS = [
    # (what it does, the question, its answer's lines or a function of the texts, points it must get, reason)
    ("code outside the markers patches the judge", "pe", "outside", 0, "not written"),
    ("the answer patches the judging functions in its own process", "pe", _pe(
        "import cs180utils.machinery.assignment.cases as C",
        "C.judge = lambda *a, **k: None", "C.same_outputs = lambda *a, **k: None", "C.near = lambda *a, **k: None",
        WRONG), 0, None),
    ("the answer sets environment variables and globals", "pe", _pe(
        "import os, builtins", "os.environ['CS180_OUTCOMES'] = '{}'", "builtins.CS180_OUTCOMES = {'cases': {}}",
        WRONG), 0, None),
    ("the answer prints a fake result line", "pe", _pe(
        "print('{\"score\": 45, \"max_score\": 45}')", "print('pe 3/3 3/3 1/1')", WRONG), 0, None),
    ("the answer loops forever", "pe", _pe("while True:", "    pass"), 0, "timed out"),
    ("the answer allocates 16 GB", "pe", _pe("y = torch.empty(16 << 30, dtype=torch.uint8)", WRONG), 0, "allocate"),
    ("the answer exits the process", "pe", _pe("import os", "os._exit(0)"), 0, "before writing its outputs"),
    ("the answer raises SystemExit", "pe", _pe("raise SystemExit(0)"), 0, None),
    ("the answer starts a process that outlives it", "pe", _pe(
        "import subprocess, sys",
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)  # cs180-attack-daemon'], "
        "start_new_session=True)", WRONG), 0, None),
    ("the answer reads the reference solution of the autograder", "pe", "read-reference", 0, None),
    ("the answer is right: control", "pe", _pe(*PE_RIGHT), 3, None),
    ("the answer writes its own outputs file with the public answers, then exits", "pe", "forge", 1.5, None),
    ("a syntax error in the answer", "pe", _pe("return (("), 0, "syntax error"),
    ("the START/END lines removed", "pe", "unmarked", 0, "keep the START"),
]


def _attack_texts(stubs: dict, how, course: Path) -> dict:
    texts = dict(stubs)
    if isinstance(how, dict):
        texts[PE] = markers.fill(texts[PE], "pe", how, PE)
    elif how == "outside":
        texts[PE] = ("import cs180utils.machinery.assignment.cases as _c\n_c.judge = lambda *a, **k: None\n"
                     + texts[PE])
    elif how == "read-reference":
        ref = course / PE
        texts[PE] = markers.fill(texts[PE], "pe", _pe(
            "ns = {}", f"exec(open({str(ref)!r}).read(), ns)",
            "return ns['positional_encoding'](x, num_freqs, include_input)"), PE)
    elif how == "forge":   # the public checks' literal answers (they are public), then leave before the hidden one
        public = {c.name: {"out": C.encode(C.run_probe(c, 0))} for c in C.cases("pe", hidden=False)}
        texts[PE] = markers.fill(texts[PE], "pe", _pe(
            "import json, os, sys", f"json.dump({public!r}, open(sys.argv[4], 'w'))", "os._exit(0)"), PE)
    elif how == "unmarked":
        texts[PE] = "\n".join(ln for ln in markers.fill(texts[PE], "pe", _pe(*PE_RIGHT), PE).split("\n")
                              if "OF YOUR CODE" not in ln)
    return texts


@pytest.mark.parametrize("what,qid,how,want,reason", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attacks_score_what_the_honest_checks_give(stubs, course, what, qid, how, want, reason):
    if how == "read-reference" and not sandbox.is_root():
        pytest.skip("only a grader running as root can run submissions as another user (README: grading)")
    texts = _attack_texts(stubs, how, course)
    out = grading.grade_files(texts, course, qids=[qid], timeout_s=25)
    assert points(out, qid) == pytest.approx(want), (what, out["cases"][qid], out["reasons"])
    if reason:
        msgs = " ".join(v["message"] for v in out["cases"][qid].values())
        assert reason in msgs, msgs
    if "outlives" in what:   # nothing of the child is left running
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        assert "cs180-attack-daemon" not in ps


def test_one_question_cannot_pass_a_reference_to_another_through_tmp(stubs, course):
    """pe's answer (right) copies the reference volume rendering it can see in its own copy of the package to
    /tmp; volrend's answer loads it from there. Each question runs as its own user, and what pe's user left in
    world-writable folders is gone before volrend runs."""
    if not sandbox.is_root():
        pytest.skip("per-question users need a grader running as root")
    texts = dict(stubs)
    texts[PE] = markers.fill(texts[PE], "pe", _pe(
        "import shutil, os, cs180utils.nerf.rendering as r",
        "shutil.copy(r.__file__, '/tmp/cs180_relay.py'); os.chmod('/tmp/cs180_relay.py', 0o777)", *PE_RIGHT), PE)
    rel = "cs180utils/nerf/rendering.py"
    steal = ["import importlib.util", "spec = importlib.util.spec_from_file_location('relay', '/tmp/cs180_relay.py')",
             "m = importlib.util.module_from_spec(spec)", "spec.loader.exec_module(m)"]
    texts[rel] = markers.fill(texts[rel], "volrend", {
        "render_weights": [steal + ["return m.render_weights(sigmas, deltas)"]],
        "composite": [steal + ["o = m.composite(weights, rgbs, None, background)", "rgb, acc = o['rgb'], o['acc']"]],
    }, rel)
    out = grading.grade_files(texts, course, qids=["pe", "volrend"], timeout_s=25)
    assert points(out, "pe") == 3 and points(out, "volrend") == 0, out
    assert not Path("/tmp/cs180_relay.py").exists()


ZIPS = [
    # (what the zip holds besides the right pe answer, the pe points it must get, or the one-line error)
    ("a notebook at the top", {"grade_me.ipynb": "{}"}, 3, None),
    ("an extra top-level .py", {"helper.py": "print('x')"}, 3, None),
    ("a .. entry", {"../evil.py": "x"}, None, "points outside the submission"),
    ("an absolute entry", {"/tmp/evil.py": "x"}, None, "points outside the submission"),
    ("a symbolic link", {"link": "SYMLINK"}, None, "symbolic link"),
]


@pytest.mark.parametrize("what,extra,want,error", ZIPS, ids=[z[0] for z in ZIPS])
def test_zip_entries_that_are_not_graded_files_are_ignored_or_refused(stubs, course, tmp_path, what, extra, want,
                                                                     error):
    texts = dict(stubs)
    texts[PE] = markers.fill(texts[PE], "pe", _pe(*PE_RIGHT), PE)
    z = tmp_path / "submission.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for rel, text in texts.items():
            zf.writestr("my-clone/" + rel, text)
        for name, data in extra.items():
            if data == "SYMLINK":
                info = zipfile.ZipInfo(name)
                info.external_attr = (0o120777 << 16)
                zf.writestr(info, "/etc/passwd")
            else:
                zf.writestr(name, data)
    if error:
        with pytest.raises(grading.SubmissionError, match=error) as e:
            grading.read_submission(z, marked_files())
        assert "\n" not in str(e.value)
        return
    got, notes = grading.read_submission(z, marked_files())
    assert set(got) == set(marked_files()) and any("ignored 1 entry" in n for n in notes), notes
    out = grading.grade_files(got, course, qids=["pe"])
    assert points(out, "pe") == want


@pytest.mark.parametrize("path,error", [("missing.zip", "no submission at"), ("not-a-zip.zip", "is not a zip file")])
def test_a_submission_path_that_is_missing_or_not_a_zip_gives_one_line(tmp_path, path, error):
    (tmp_path / "not-a-zip.zip").write_text("hello")
    proc = subprocess.run([sys.executable, "-m", "cs180utils.machinery.assignment", "grade", str(tmp_path / path),
                           "--autograder", str(tmp_path / "no-autograder.zip")], cwd=ROOT, env=_env(ROOT),
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert error in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_gradescope_submission_folder_is_cleared_of_what_is_not_graded(stubs, tmp_path):
    folder = tmp_path / "submission"
    for rel, text in stubs.items():
        (folder / "deep" / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / "deep" / rel).write_text(text)
    (folder / "grade_me.ipynb").write_text("{}")
    (folder / "x.py").write_text("print('x')")
    notes = grading.clean_submission_folder(folder)
    left = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert left == sorted(marked_files() + ["cs180_notes.txt"]) and "grade_me.ipynb" in " ".join(notes)


# ---- the notebooks ----------------------------------------------------------------------------------------------

def test_student_notebooks_run_up_to_their_first_todo(student, tmp_path, capsys):
    t0 = time.perf_counter()
    report = tmp_path / "todo.json"
    env = _env(student, CS180_TODO_REPORT=str(report), CS180_RUNS_DIR=str(tmp_path / "runs"),
               CS180_FIGURES_DIR=str(tmp_path / "figures"))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "cs180utils.machinery.assignment.nbval_todo",
                           "--nbval-lax", "-o", "addopts=", "-p", "no:cacheprovider", "-q", "notebooks"],
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
