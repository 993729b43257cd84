"""Build the student edition (``make student`` -> ``dist/student/``) and the autograder's copy of the course.

The student edition is the whole repository, as a student clones it, except that

- every ``# BEGIN SOLUTION <q>`` ... ``# END SOLUTION`` block is a stub that raises ``todo(q, function)``,
  between ``START OF YOUR CODE (q)`` and ``END OF YOUR CODE (q)`` lines (only what lies between them is graded),
- the hidden checks are gone (the ``# BEGIN HIDDEN`` block of ``cases.py``),
- each notebook has, under the heading of each of its questions (the cell tagged ``question-<q>``), a TODO cell
  (what to write, where) and a ``check("<q>")`` cell (the question's public tests); the answer cell of each
  written question (tagged ``answer-<id>``, ``written.py``) holds a placeholder instead of the model answer,
- the notebooks' setup cells and Colab badges, README's links and ``colab.py``'s addresses name the student
  repository (``colab.STUDENT_REPO_URL``, or ``--repo-url``), never the instructor's ``colab.REPO_URL``,
- ``ASSIGNMENT.md`` lists the questions, points and how to check and submit (the README points to it),
- ``make test`` is the student's progress (``python -m cs180utils.machinery.assignment progress``: each question
  not written / failing / passing), and the instructor-only parts are left out: ``tests/`` (the instructor's
  suite, which tests the solutions), ``.ci/``.

The autograder's course tree (``course/`` in the Gradescope zip) is the package as the instructor has it,
solutions and hidden checks included: grading splices one question of a submission at a time into a copy of it
(``grading.question_tree``), so every other question runs the reference. It is private to the autograder.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from cs180utils.machinery import colab
from cs180utils.machinery.assignment import markers
from cs180utils.machinery.assignment.questions import QUESTIONS, max_score, question

INSTRUCTOR_ONLY = ("tests/", ".ci/", "dist/")
NEVER = ("__pycache__/", ".ipynb_checkpoints/", ".pytest_cache/")


# What the repository's .gitignore leaves out, for a copy that is no git checkout (tests/assignment/
# test_autograder_build.py checks that such a copy lists what git lists)
IGNORED_DIRS = (".git", ".venv", "__pycache__", ".ipynb_checkpoints", ".pytest_cache")   # at any depth
IGNORED_TOP = ("runs/", "dist/", "data/", "figures/", "submission.zip", "report.html")  # at the root only
KEPT = ("data/README.md", "figures/README.md", "figures/gallery/")


def _git_files(root: Path) -> list[str] | None:
    """The files git lists under ``root`` (tracked, or untracked but not ignored), or None where ``root`` is no
    checkout git tracks anything of: no git, no repository, or a copy that an enclosing checkout does not track
    (a downloaded zip or ``git archive`` output unpacked inside another clone, perhaps in an ignored folder,
    of which git would list nothing)."""
    try:
        out = subprocess.run(["git", "ls-files", "-t", "-co", "--exclude-standard"], cwd=root, check=True,
                             capture_output=True, text=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return None
    tagged = [(ln[:1], ln[2:]) for ln in out if ln]
    if not any(tag != "?" for tag, _ in tagged):
        return None
    return [f for _, f in tagged if (root / f).is_file()]


def _plain_files(root: Path) -> list[str]:
    """Every file below ``root`` but what the repository's .gitignore leaves out."""
    files = []
    for here, dirs, names in os.walk(root):
        rel_dir = Path(here).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS and not d.endswith(".egg-info"))
        files += [prefix + n for n in names if n != ".git"]   # a worktree's .git is a file
    return [f for f in files if not f.startswith(IGNORED_TOP) or f.startswith(KEPT)]


def repo_files(root: Path) -> list[str]:
    """The repository's files (tracked, or untracked but not ignored), repository-relative posix paths; in a
    copy that is no git checkout, every file but what .gitignore leaves out."""
    root = Path(root)
    files = _git_files(root)
    if files is None:
        files = _plain_files(root)
    return sorted(f for f in files if not any(n in f for n in NEVER))


def hints() -> dict[tuple[str, str], str]:
    """(question, function qualname) -> the formula, for the stubs."""
    return {(q.id, key.split("::")[1]): hint for q in QUESTIONS for key, hint in q.parts.items()}


def check_markers(root: Path) -> dict[str, list[markers.Block]]:
    """Every marked module's blocks, checked against the table: each part of a question has a block in its
    function, each block belongs to a part, and the marked files are exactly the table's."""
    root = Path(root)
    found: dict[str, list[markers.Block]] = {}
    for rel in repo_files(root):
        if rel.endswith(".py") and rel.startswith("cs180utils/"):
            text = (root / rel).read_text()
            if markers.has_blocks(text):
                found[rel] = markers.blocks(text, rel)
    parts = {(q.id, key) for q in QUESTIONS for key in q.parts}
    marked = {(b.qid, f"{rel}::{b.function}") for rel, bs in found.items() for b in bs}
    problems = [f"question {qid}: no SOLUTION block in {key}" for qid, key in sorted(parts - marked)]
    problems += [f"{key}: a SOLUTION block of {qid}, which has no such part in questions.py"
                 for qid, key in sorted(marked - parts)]
    if problems:
        raise markers.MarkerError("markers and cs180utils/machinery/assignment/questions.py disagree:\n  "
                                  + "\n  ".join(problems))
    return found


# ---- notebooks: TODO and check cells ------------------------------------------------------------------------

def _heading(cell) -> str | None:
    if cell.get("cell_type") != "markdown":
        return None
    first = "".join(cell["source"]).lstrip().split("\n", 1)[0]
    m = re.match(r"^#+\s+(.*\S)\s*$", first)
    return m.group(1) if m else None


def notebook_path(root: Path, nb: str) -> Path:
    hits = sorted((Path(root) / "notebooks").glob(f"{nb}_*.ipynb"))
    if len(hits) != 1:
        raise FileNotFoundError(f"notebook {nb}: expected one notebooks/{nb}_*.ipynb, found {len(hits)}")
    return hits[0]


def _md(text: str) -> str:
    """Plain formula text for Markdown: ``_`` and ``*`` escaped outside `code` spans (alpha_i is no italics)."""
    parts = text.split("`")
    return "`".join(p if i % 2 else re.sub(r"([_*])", r"\\\1", p).replace("<", "&lt;") for i, p in enumerate(parts))


def todo_cells(qid: str) -> list[dict]:
    q = question(qid)
    by_file: dict[str, list[str]] = {}
    for key, hint in q.parts.items():
        path, func = key.split("::")
        by_file.setdefault(path, []).append(f"- `{func}`: {_md(hint)}")
    lines = [f"**TODO · `{q.id}` — {_md(q.title)} ({q.points} point{'s' * (q.points != 1)}).** Write, in place of "
             f"the `raise todo(...)` stubs:", ""]
    for path, items in by_file.items():
        lines += [f"`{path}`", "", *items, ""]
    lines += ["Then run the cell below: it runs this question's public tests (the autograder also runs hidden "
              "ones). Edited a file? The check always uses what is on disk; restart the kernel before re-running "
              "the notebook's other cells."]
    md = {"cell_type": "markdown", "id": f"todo-{qid}"[:64], "metadata": {}, "source": "\n".join(lines)}
    code = {"cell_type": "code", "id": f"check-{qid}"[:64], "metadata": {}, "execution_count": None,
            "outputs": [], "source": f"from cs180utils.machinery.assignment import check\ncheck({qid!r})"}
    return [md, code]


def section_tag(qid: str) -> str:
    """The tag of the markdown cell (a section's heading) under which question ``qid``'s TODO and check cells go:
    a tag, not the heading's text, so that rewording a heading moves nothing."""
    return f"question-{qid}"


def student_notebook(nb: dict, number: str) -> dict:
    """A notebook with the TODO and check cells of its questions under the cells tagged :func:`section_tag`
    (in table order)."""
    cells = list(nb["cells"])
    for q in QUESTIONS:
        if q.notebook != number:
            continue
        at = [i for i, c in enumerate(cells) if section_tag(q.id) in c.get("metadata", {}).get("tags", [])]
        if len(at) != 1:
            raise ValueError(f"question {q.id}: notebook {number} has {len(at)} cells tagged {section_tag(q.id)!r}; "
                             f"tag the heading cell of its section so (JupyterLab: the property inspector)")
        i = at[0] + 1
        while i < len(cells) and str(cells[i].get("id", "")).startswith(("todo-", "check-")):
            i += 1   # after the cells of earlier questions of the same section
        cells[i:i] = todo_cells(q.id)
    cells = [_blank_answer(c) for c in cells]
    out = dict(nb)
    out["cells"] = cells
    return out


def _blank_answer(cell: dict) -> dict:
    """A written question's answer cell (tagged ``answer-<id>``, see ``written.py``) with the placeholder in place
    of the instructor's model answer; any other cell as it is."""
    if not any(str(t).startswith("answer-") for t in cell.get("metadata", {}).get("tags", [])):
        return cell
    from cs180utils.machinery.assignment.written import PLACEHOLDER  # noqa: PLC0415

    return {**cell, "source": PLACEHOLDER}


# cpu-profile minutes of each notebook on a 2-core CPU with no data: README's `make run` table (aa76c88)
NOTEBOOK_SECONDS = {"01": 260, "02": 25, "03": 509, "04": 21, "05": 224, "06": 178, "07": 290, "08": 395, "09": 286,
                    "10": 248}


def assignment_md(repo_url: str | None = None) -> str:
    url = repo_url or colab.STUDENT_REPO_URL
    clone = colab.github_name(url).split("/")[-1]   # the folder the setup cell clones into
    rows = ["| question | notebook · section | write | points |", "|---|---|---|---|"]
    for q in QUESTIONS:
        funcs = ", ".join(f"`{k.split('::')[1]}` ({k.split('::')[0].removeprefix('cs180utils/')})"
                          for k in q.parts)
        rows.append(f"| `{q.id}` | {q.notebook} · {q.section} | {funcs} | {q.points} |")
    order = ["| notebook | questions | points | cpu profile, 2 cores |", "|---|---|---|---|"]
    for nb in sorted(NOTEBOOK_SECONDS):
        qs = [q for q in QUESTIONS if q.notebook == nb]
        order.append(f"| {nb} | {', '.join(f'`{q.id}`' for q in qs) or '(none: run it, read it)'} | "
                     f"{sum(q.points for q in qs)} | about {max(1, round(NOTEBOOK_SECONDS[nb] / 60))} min |")
    return f"""# The assignment

This is the student edition of the CS180 workbook: the notebooks and commands of the README all work, but the
functions the projects ask you to write are stubs. Running a notebook stops at the first cell that needs one,
with a message that names the question, the notebook section and the formula, e.g.

    TodoError: TODO volrend (5 points, notebook 03 · 1. Volume rendering, ...): write render_weights in
    cs180utils/nerf/rendering.py: alpha_i = 1 - exp(-sigma_i delta_i); ...

## Set up

- **Colab (GPU).** Open a notebook from this repository ({url}) with its "Open in Colab" badge (README's table)
  and run its first cell: it clones this repository into the notebook's folder (`/content/{clone}`)
  and installs that clone. Write your answers in its files (Colab's Files pane); `check()` reads them from there.
  Colab forgets them when the runtime is recycled: download your edited files, or the zip of `make submission`
  (`!cd {clone} && python -m cs180utils.machinery.assignment submission`), before you leave.
- **Your machine (CPU).** `git clone {url}`, then `make lab` (sets up `.venv` with the pinned requirements, then
  opens JupyterLab on the notebooks). Python 3.10+ and `make`; no GPU or conda needed.

## Which profile

Every notebook picks its sizes from `CS180_PROFILE`: `full` (the course's networks at a GPU's sizes and
lengths; the default when CUDA is there), `cpu` (real results in minutes on a laptop; the default without a GPU) or `smoke` (a minute each,
numbers meaningless: to see that your code runs end to end). `CS180_PROFILE=smoke make lab` sets it for a session.

## The order to work in

The notebooks in order: each question is introduced where it is used, and later notebooks use earlier answers
(03 renders with 02's rays, 04 with 03's volume rendering; 06–09 build on 05's blocks). Times are the whole
notebook in the cpu profile on a 2-core CPU (README's `make run` table); a GPU in the full profile is faster for
the trainings.

{chr(10).join(order)}

## Write your answer between the START and END lines

Each stub sits between two lines:

    # ---- START OF YOUR CODE (volrend): only the lines between START and END are graded
    raise todo('volrend', 'render_weights')
    # ---- END OF YOUR CODE (volrend)

Replace the `raise todo(...)` line with your code, between those two lines, and keep them. Only those lines are
graded: a helper function or an import you add elsewhere in the file is not there when your answer is graded, so
write imports and helpers inside your answer (the imports at the top of the module are there).
Keep the function's name, arguments and return value. Each question is graded on its own, with the course's
solution for every other question: a wrong `pe` costs you `pe`'s points only.

## Check your work

- In a notebook, the cell under each TODO runs that question's public checks: `check("volrend")`. It runs in the
  notebook's own process (a fraction of a second), re-reading your files from disk, and says what is wrong in
  plain words: which input, what was expected, what came.
- `make test` (or `python -m cs180utils.machinery.assignment progress`) prints every question as not written,
  needs another question first, failing, or passing.
- From a shell: `python -m cs180utils.machinery.assignment check volrend` (several names, or `--all`).

The autograder also runs hidden checks, on inputs drawn when it grades: passing the public ones is necessary,
not sufficient. A plausible mistake (PE without pi, transmittance including the current sample, pixel corners
instead of centres, ...) fails a public check.

## Submit

`make submission` (or `python -m cs180utils.machinery.assignment submission`) writes `submission.zip` with the files you
edit; upload it. Only these files are graded, and in them only your answers between the START and END lines:

{chr(10).join(f"- `{f}`" for f in sorted({k.split('::')[0] for q in QUESTIONS for k in q.parts}))}

## Questions ({max_score()} points)

{chr(10).join(rows)}

A question's points are shared equally by its checks, public and hidden.

{grading_md()}"""


def grading_md() -> str:
    """ASSIGNMENT.md's written questions, report and grading: the autograded code points (``questions.py``), the
    points a grader gives by hand (``written.py``) with what earns them, and the range of each part's numbers."""
    from cs180utils.machinery.assignment import written  # noqa: PLC0415

    code, by_hand, figures = max_score(), written.written_points(), written.figure_points()
    qs = ["| question | notebook | points | asks | earns the points |", "|---|---|---|---|---|"]
    qs += [f"| `{w.id}` | {w.notebook} | {w.points} | {_md(w.gist)} | {_md(w.rubric)} |" for w in written.WRITTEN]
    parts = ["| part | notebook | points | expected, cpu profile | full profile |", "|---|---|---|---|---|"]
    parts += [f"| {p.title} | {p.notebook} | {p.figure_points} | {_md(p.expected)} | {written.FULL_PROFILE} |"
              for p in written.PARTS]
    return f"""## Written questions and the report

Each part of the write-up asks you to explain what its figures show. Under the figure a question is about, a
notebook has a **Written question** cell and, below it, an answer cell that reads
"{written.PLACEHOLDER}": replace that text with your answer (Markdown; double-click the cell to edit it).

`make run` executes the notebooks into `figures/executed/`, your answers with them; `make report` (or
`python -m cs180utils.machinery.assignment report`) then writes `report.html`, your project page: one file,
images included, with each part's figures, its printed numbers, and your answers, in the write-up's order. A part
whose notebook has not been run says so (`make run ONLY=03` runs one). Edited an answer after the run? Run that
notebook again (its trainings are kept in `runs/` and reused), or, if you ran the notebooks in JupyterLab and
saved them with their outputs, build the page from them: `python -m cs180utils.machinery.assignment report
--executed notebooks`. `make submission` puts `report.html` into `submission.zip` when it is there.

## Grading ({code + by_hand + figures} points)

| what | points | graded by |
|---|---|---|
| the code questions above | {code} | the autograder |
| the written questions | {by_hand} | a grader, by hand, from `report.html` |
| each part's figures and numbers in `report.html` | {figures} | a grader, by hand |
| **total** | **{code + by_hand + figures}** | |

### Written questions ({by_hand} points)

A short answer that says what your figure shows and why earns the points; the column on the right is what a
grader looks for. Cite your own printed numbers.

{chr(10).join(qs)}

### Figures and numbers ({figures} points)

A part's point: its figures and numbers are in `report.html`, from a run in the `cpu` or `full` profile (the
`smoke` profile's numbers are meaningless), and its numbers fall in the range below, or an answer says why not.
The ranges are README's measurements on a 2-core CPU, `cpu` profile, with real data; some notebooks train for a
shorter time than the command quoted, so expect their numbers a little worse.

{chr(10).join(parts)}
"""


def student_makefile(text: str) -> str:
    """The Makefile with ``make test`` as the student's progress table (the instructor's suite is not shipped)
    and without the browser test's target (its tests are not shipped either)."""
    out, skipping = [], False
    for line in text.split("\n"):
        if line.startswith("test:"):
            out += ["test: setup", "\t$(PY) -m cs180utils.machinery.assignment progress"]
            skipping = True
            continue
        if line.startswith("test-browser:"):
            skipping = True
            continue
        if skipping and line.startswith("\t"):
            continue
        skipping = False
        out.append(line)
    return "\n".join(out).replace(" test-browser ", " ")


INSTRUCTOR_SECTIONS = ("Assignment edition", "Development")   # README sections the student edition leaves out


def student_readme(text: str) -> str:
    """README for students: the banner to ASSIGNMENT.md, ``make test`` as their progress, no CI paragraph, no
    instructor sections (links to them go to ASSIGNMENT.md)."""
    head, _, rest = text.partition("\n")
    sections = re.split(r"(?m)^(?=## )", rest)
    keep = [sec for sec in sections if not any(sec.startswith(f"## {name}\n") for name in INSTRUCTOR_SECTIONS)]
    body = "".join(keep)
    body = re.sub(r"make test    # [^\n]*\n(?:\s+# [^\n]*\n)*",
                  "make test    # sets up the same way, then prints every question of ASSIGNMENT.md: not written,\n"
                  "             # failing or passing\n", body, count=1)
    body = re.sub(r"(?ms)^CI runs exactly .*?(?=\n\n)", "", body, count=1)
    for name in INSTRUCTOR_SECTIONS:
        body = body.replace(f"(#{name.lower().replace(' ', '-')})", "(ASSIGNMENT.md)")
    return (f"{head}\n\n> **Student edition.** The functions the projects ask you to write are stubs here: start "
            f"with [ASSIGNMENT.md](ASSIGNMENT.md).\n{body}")


# ---- the editions -------------------------------------------------------------------------------------------

def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)


def build(root: Path, out: Path, edition: str = "student", repo_url: str | None = None) -> Path:
    """Write an edition of the repository at ``root`` into ``out`` (replaced).

    ``student``: the whole repository for a student (see the module docstring), whose notebooks, README and
    ``colab.py`` name the student repository ``repo_url`` (default ``colab.STUDENT_REPO_URL``) wherever the
    instructor's ``colab.REPO_URL`` stood, so that Colab installs the package with stubs. ``course``: the
    autograder's tree: ``cs180utils/`` as it is, reference solutions and hidden checks included."""
    import nbformat  # noqa: PLC0415

    if edition not in ("student", "course"):
        raise ValueError(f"edition must be 'student' or 'course', got {edition!r}")
    root, out = Path(root).resolve(), Path(out).resolve()
    if out == root or root in out.parents and not str(out.relative_to(root)).startswith("dist"):
        raise ValueError(f"refusing to build into {out}: use a folder outside the repository or under dist/")
    if any(markers.has_blocks((root / rel).read_text()) for rel in repo_files(root)
           if rel.startswith("cs180utils/") and rel.endswith(".py")):
        check_markers(root)
    elif edition == "course":
        raise ValueError(f"{root} holds no solutions (no BEGIN SOLUTION blocks: a student edition?): build the "
                         f"autograder from the instructor's workbook")
    # else: a student edition of a student edition is a copy
    the_hints = hints()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for rel in repo_files(root):
        if edition == "course":   # the package as it is: solutions and hidden checks
            if rel.startswith("cs180utils/") and rel.endswith(".py"):
                _write(out / rel, (root / rel).read_text())
            continue
        if rel.startswith(INSTRUCTOR_ONLY):
            continue
        src = root / rel
        if rel.endswith(".py"):
            text = src.read_text()
            text = markers.strip_hidden(markers.student_source(text, rel, the_hints), rel)
            _write(out / rel, text)
        elif rel == "Makefile":
            _write(out / rel, student_makefile(src.read_text()))
        elif rel.endswith(".ipynb") and rel.startswith("notebooks/"):
            nb = nbformat.read(src, as_version=4)
            number = Path(rel).name.split("_", 1)[0]
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nbformat.from_dict(student_notebook(nb, number)), out / rel)
        else:
            _write(out / rel, src.read_bytes())
    if edition == "student":
        _write(out / "ASSIGNMENT.md", assignment_md(repo_url))
        readme = out / "README.md"
        if readme.exists() and "Student edition." not in readme.read_text():
            readme.write_text(student_readme(readme.read_text()))
        colab.retarget(out, repo_url or colab.STUDENT_REPO_URL)
        gi = out / ".gitignore"
        if gi.exists() and "submission.zip" not in gi.read_text():
            gi.write_text(gi.read_text().rstrip("\n") + "\n/submission.zip\n")
        if gi.exists() and "report.html" not in gi.read_text():
            gi.write_text(gi.read_text().rstrip("\n") + "\n/report.html\n")
    elif not (out / "cs180utils/machinery/assignment/cases.py").is_file():
        raise FileNotFoundError(f"{root} has no cs180utils/machinery/assignment/cases.py: the autograder would hold "
                                f"no checks; build it from a copy of the instructor's workbook")
    return out
