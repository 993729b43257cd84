"""The deliverable: written questions, the student's placeholders, the project page (``make report``).

- the table of ``written.py`` and the notebooks' tagged cells agree (each entry: a question cell, the answer
  cell right under it, after a ``report`` cell of the same section; each tagged cell: an entry);
- the student edition's answer cells hold the placeholder, never the model answer;
- the page from synthetic executed notebooks (the real notebooks with planted outputs): a section per part in the
  write-up's order, the image as a data URI, printed text escaped, answers rendered, "not run yet" for a missing
  notebook, a one-line error for a missing folder; ``make submission`` takes report.html along;
- (slow) notebooks 02 and 04 executed for real in the smoke profile give sections with embedded figures;
- the rubric's expected numbers are README's.
"""
from __future__ import annotations

import base64
import copy
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from cs180utils.machinery.assignment import build, report, written
from cs180utils.machinery.assignment.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# a 1x1 PNG
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def _nb(path: Path) -> dict:
    return json.loads(path.read_text())


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def _text(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


# ---- the table and the notebooks -----------------------------------------------------------------------------

def test_parts_are_the_notebooks_in_order():
    assert [p.notebook for p in written.PARTS] == [p.name[:2] for p in NOTEBOOKS]
    assert len({w.id for w in written.WRITTEN}) == len(written.WRITTEN)
    assert all(w.notebook in {p.notebook for p in written.PARTS} for w in written.WRITTEN)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_entry_has_its_cells_and_every_tagged_cell_an_entry(path):
    cells = _nb(path)["cells"]
    number = path.name[:2]
    entries = {w.id: w for w in written.WRITTEN if w.notebook == number}
    tagged = {t: i for i, c in enumerate(cells) for t in _tags(c) if t.startswith(("written-", "answer-"))}
    expected = {written.written_tag(w) for w in entries} | {written.answer_tag(w) for w in entries}
    assert set(tagged) == expected, "written.py's WRITTEN and the notebook's written-/answer- tags differ"
    assert any(written.REPORT_TAG in _tags(c) for c in cells), "no report cell: the page would have no figure"
    for wid, w in entries.items():
        q, a = tagged[written.written_tag(wid)], tagged[written.answer_tag(wid)]
        assert a == q + 1, f"{wid}: the answer cell must come right after the question"
        assert cells[q]["cell_type"] == cells[a]["cell_type"] == "markdown"
        head = _text(cells[q])
        assert head.startswith(f"**Written question `{wid}`** ({w.points} point"), head[:60]
        assert _text(cells[a]).strip() and _text(cells[a]).strip() != written.PLACEHOLDER, "no model answer"
        before = cells[:q]
        last_heading = max((i for i, c in enumerate(before) if c["cell_type"] == "markdown"
                            and _text(c).lstrip().startswith("#")), default=-1)
        assert any(written.REPORT_TAG in _tags(c) for c in before[last_heading + 1:]), \
            f"{wid}: no report cell before it in its section (a question follows the figure it asks about)"


def test_report_tags_are_on_code_cells_with_a_figure_or_a_print():
    for path in NOTEBOOKS:
        for c in _nb(path)["cells"]:
            if written.REPORT_TAG in _tags(c):
                assert c["cell_type"] == "code", f"{path.name} {c['id']}"
                src = _text(c)
                assert re.search(r"savefig|print\(|display\(|slider\(", src), f"{path.name} {c['id']}: shows nothing"


# ---- the student edition -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_notebook_answers_are_placeholders(path):
    nb = _nb(path)
    student = build.student_notebook(copy.deepcopy(nb), path.name[:2])
    answers = [c for c in student["cells"] if any(t.startswith("answer-") for t in _tags(c))]
    assert len(answers) == sum(w.notebook == path.name[:2] for w in written.WRITTEN)
    for c in answers:
        assert _text(c) == written.PLACEHOLDER
    models = [_text(c) for c in nb["cells"] if any(t.startswith("answer-") for t in _tags(c))]
    assert all(m not in json.dumps(student) for m in models)
    questions = [_text(c) for c in nb["cells"] if any(t.startswith("written-") for t in _tags(c))]
    assert all(any(_text(c) == q for c in student["cells"]) for q in questions), "the questions stay"


def test_assignment_md_grading_adds_up():
    md = build.assignment_md("https://github.com/x/y")
    total = build.max_score() + written.written_points() + written.figure_points()
    assert f"## Grading ({total} points)" in md
    assert f"| the code questions above | {build.max_score()} |" in md
    for w in written.WRITTEN:
        assert f"| `{w.id}` | {w.notebook} | {w.points} |" in md
    assert md.count(written.FULL_PROFILE) == len(written.PARTS)


def test_expected_numbers_are_readme_s():
    """Every dB, % and s figure a part's expected range quotes stands in README's results."""
    readme = (ROOT / "README.md").read_text()
    for p in written.PARTS:
        for num in re.findall(r"(\d+\.\d+) (?:dB|%|s)", p.expected):
            assert num in readme, f"part {p.notebook}: {num} is not in README"


# ---- the page ------------------------------------------------------------------------------------------------

def _executed(tmp_path: Path, skip: str = "03") -> Path:
    """The real notebooks with planted outputs, as make run would leave them, but for notebook ``skip``."""
    out = tmp_path / "executed"
    out.mkdir()
    for path in NOTEBOOKS:
        if path.name.startswith(skip):
            continue
        nb = _nb(path)
        reports = [c for c in nb["cells"] if written.REPORT_TAG in _tags(c)]
        reports[0]["outputs"] = [
            {"output_type": "stream", "name": "stdout", "text": ["PSNR 26.62 dB\n", "<script>alert(1)</script>\n"]},
            {"output_type": "display_data", "metadata": {},
             "data": {"image/png": PNG, "text/plain": "<Figure size 640x480 with 1 Axes>"}},
            {"output_type": "stream", "name": "stderr", "text": "a progress bar\n"},
        ]
        reports[0]["execution_count"] = 1
        for c in nb["cells"]:
            if any(t.startswith("answer-") for t in _tags(c)):
                c["source"] = f"My **answer** for {path.name[:2]}: <script>bad()</script> $a_i < b$"
        (out / path.name).write_text(json.dumps(nb, indent=1))
    return out


def test_report_from_planted_outputs(tmp_path):
    page = report.build_report(_executed(tmp_path))
    ids = re.findall(r'<section id="part-(\d\d)">', page)
    assert ids == [p.notebook for p in written.PARTS], "one section per part, in the write-up's order"
    sections = dict(zip(ids, page.split('<section id="part-')[1:]))
    assert f'src="data:image/png;base64,{PNG}"' in sections["01"]
    assert "PSNR 26.62 dB" in sections["01"] and "a progress bar" not in page
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in sections["01"]
    assert "<strong>answer</strong>" in sections["05"] and "&lt;script&gt;bad()&lt;/script&gt;" in sections["05"]
    assert "Not run yet: <code>make run ONLY=03</code>" in sections["03"]
    assert "Not run yet" not in sections["04"]
    for w in written.WRITTEN:   # each question, with its answer, in its part
        assert f"Written question <code>{w.id}</code>" in sections[w.notebook] or w.notebook == "03"
    assert "<Figure size" not in page
    # self-contained: nothing fetched
    assert not re.search(r'(?:src|href)="(?!data:|#)', page)
    assert "<link" not in page and "<script" not in page


def test_placeholder_answers_show_as_not_answered(tmp_path):
    out = tmp_path / "executed"
    out.mkdir()
    nb = build.student_notebook(_nb(NOTEBOOKS[1]), "02")
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "profile=cpu device=cpu\n"}]
    (out / NOTEBOOKS[1].name).write_text(json.dumps(nb))
    page = report.build_report(out)
    part = page.split('<section id="part-02">')[1].split("</section>")[0]
    assert part.count("(not answered yet)") == 2 and "profile=cpu device=cpu" in part
    assert part.count("(no output: this cell did not run)") == 3


def test_cli_report_and_submission(tmp_path, capsys, monkeypatch):
    executed = _executed(tmp_path)
    out = tmp_path / "clone" / "report.html"
    assert main(["report", "--executed", str(executed), "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["not_run"] == ["03"] and out.stat().st_size == summary["bytes"]
    assert main(["report", "--executed", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "make run" in err

    from cs180utils.machinery.assignment.autograder import submission_zip  # noqa: PLC0415

    zipped, _ = submission_zip(out.parent, tmp_path / "submission.zip")
    assert "report.html" in zipfile.ZipFile(zipped).namelist()
    out.unlink()
    zipped, _ = submission_zip(out.parent, tmp_path / "submission2.zip")
    assert "report.html" not in zipfile.ZipFile(zipped).namelist()


# ---- for real --------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_report_from_executed_notebooks(tmp_path, monkeypatch):
    """Notebooks 02 and 04 executed in the smoke profile (about half a minute each), then the page."""
    from cs180utils.machinery import workbook  # noqa: PLC0415

    monkeypatch.setenv("CS180_PROFILE", "smoke")
    monkeypatch.setenv("CS180_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("CS180_FIGURES_DIR", str(tmp_path / "figures"))
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for path in NOTEBOOKS:
        if path.name[:2] in ("02", "04"):
            shutil.copy(path, folder / path.name)
    executed = tmp_path / "executed"
    assert workbook.run(["02", "04"], out_dir=executed, folder=folder, timeout=600) == 0
    page = report.build_report(executed)
    for number in ("02", "04"):
        part = page.split(f'<section id="part-{number}">')[1].split("</section>")[0]
        assert "Not run yet" not in part and "This cell failed" not in part
        images = re.findall(r'src="data:image/(?:png|gif);base64,([A-Za-z0-9+/=]+)"', part)
        assert images, f"notebook {number}: no embedded figure"
        assert base64.b64decode(images[0])[:4] in (b"\x89PNG", b"GIF8")
        assert "profile=smoke" in part
    assert "Not run yet: <code>make run ONLY=01</code>" in page
