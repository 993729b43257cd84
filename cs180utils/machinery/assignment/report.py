"""The student's project page (``make report``): one self-contained HTML file from the executed notebooks.

    python -m cs180utils.machinery.assignment report [--executed figures/executed] [--out report.html]

A section per part of the write-up (``written.PARTS``, in its order), each with

- the outputs of the notebook's cells tagged ``report``: images embedded as base64 data URIs (PNG, JPEG, GIF,
  SVG), printed text as ``<pre>`` (stdout and plain-text results, long ones cut in the middle);
- each written question (the cell tagged ``written-<id>``) with the answer under it (``answer-<id>``), both
  rendered from Markdown with raw HTML escaped (maths stays as its TeX source: the page loads nothing);
- the line the notebook's setup cell printed (profile, device), so that a reader sees which run it was.

Everything is read from the executed notebooks (``make run`` writes them into ``figures/executed/``; a folder of
notebooks saved from JupyterLab with their outputs works too). A part whose notebook is missing there, or has no
output, says "not run yet" and how to run it. No stylesheet, script or image is fetched: the file is the page.
"""
from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from cs180utils.machinery.assignment.written import PARTS, PLACEHOLDER, REPORT_TAG, WRITTEN, Part

IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
MAX_LINES = 60          # a longer text output keeps its first HEAD_LINES and its last lines
HEAD_LINES = 15

STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#222}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2.5rem}
img{max-width:100%;height:auto;display:block;margin:.6rem 0}
pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;font-size:.8rem;white-space:pre-wrap}
.q{background:#eef4fb;border-left:4px solid #4a7ab5;padding:.2rem .8rem;margin-top:1.2rem}
.a{border-left:4px solid #8a8;padding:.2rem .8rem}.missing{color:#a40}.run{color:#666;font-size:.85rem}
.failed{color:#b00}"""


def default_executed() -> Path:
    """``figures/executed`` of the workspace (``$CS180_FIGURES_DIR/executed``), where ``make run`` writes."""
    from cs180utils.machinery import config  # noqa: PLC0415

    return config.figures_dir("executed", create=False)


def _tags(cell) -> list[str]:
    return [str(t) for t in cell.get("metadata", {}).get("tags", [])]


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _markdown(text: str) -> str:
    """Markdown to HTML, raw HTML escaped and harmful link protocols dropped; ``$maths$`` kept as written."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath  # noqa: PLC0415

    md = MarkdownWithMath(renderer=IPythonRenderer(escape=True, allow_harmful_protocols=False))
    return md.render(text)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_B64 = re.compile(r"^[A-Za-z0-9+/=]*$")


def _text(text: str) -> str:
    """Printed text as a terminal shows it: ANSI colours removed, a line rewritten by ``\\r`` as its last
    version (progress bars), a long output cut in the middle."""
    lines = [ln.split("\r")[-1] for ln in _ANSI.sub("", text).split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) > MAX_LINES:
        tail = MAX_LINES - HEAD_LINES
        lines = lines[:HEAD_LINES] + [f"... ({len(lines) - MAX_LINES} lines left out) ..."] + lines[-tail:]
    return "\n".join(lines)


def _image(mime: str, data) -> str | None:
    if isinstance(data, list):
        data = "".join(data)
    if mime == "image/svg+xml":
        data = base64.b64encode(data.encode()).decode()
    data = re.sub(r"\s+", "", data)
    if not _B64.match(data):   # not base64: never let it into an attribute
        return None
    return f'<img alt="figure" src="data:{mime};base64,{data}">'


def _outputs(cell) -> list[str]:
    """The HTML of one ``report`` cell's outputs, in order: images, printed text, a failure."""
    blocks, text = [], []

    def flush():
        if text and "".join(text).strip():
            blocks.append(f"<pre>{html.escape(_text(''.join(text)))}</pre>")
        text.clear()

    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            if out.get("name") == "stdout":
                text.append(_source({"source": out.get("text", "")}))
            continue
        if kind == "error":
            flush()
            blocks.append(f'<p class="failed">This cell failed: {html.escape(str(out.get("ename", "")))}: '
                          f'{html.escape(str(out.get("evalue", "")))}</p>')
            continue
        data = out.get("data", {})
        mime = next((m for m in IMAGE_MIMES if m in data), None)
        if mime:
            flush()
            img = _image(mime, data[mime])
            if img:
                blocks.append(img)
        elif "text/plain" in data and WIDGET_MIME not in data:
            text.append(_source({"source": data["text/plain"]}) + "\n")
    flush()
    return blocks


def _has_run(nb) -> bool:
    return any(c.get("cell_type") == "code" and (c.get("outputs") or c.get("execution_count"))
               for c in nb.get("cells", []))


def _run_line(nb) -> str | None:
    """What the setup cell printed (``config.describe()``: profile, device, torch, threads)."""
    for c in nb.get("cells", []):
        if c.get("cell_type") == "code" and "config.describe()" in _source(c):
            lines = [ln for o in c.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stdout"
                     for ln in _source({"source": o.get("text", "")}).splitlines() if ln.startswith("profile=")]
            return lines[-1] if lines else None
    return None


def notebook_in(folder: Path, number: str) -> Path | None:
    hits = sorted(Path(folder).glob(f"{number}_*.ipynb"))
    return hits[0] if hits else None


def _not_run(part: Part, why: str) -> str:
    return (f'<p class="missing">Not run yet: <code>make run ONLY={part.notebook}</code> ({html.escape(why)}).</p>')


def section(part: Part, path: Path | None) -> tuple[str, str]:
    """(status, HTML body) of one part: ``run``, or ``not run``."""
    import nbformat  # noqa: PLC0415

    if path is None:
        return "not run", _not_run(part, f"no notebook {part.notebook}_*.ipynb in the executed folder")
    nb = nbformat.read(path, as_version=4)
    if not _has_run(nb):
        return "not run", _not_run(part, f"{path.name} has no outputs")
    body = []
    run = _run_line(nb)
    body.append(f'<p class="run">{html.escape(path.name)}' + (f": {html.escape(run)}" if run else "") + "</p>")
    cells = nb.cells
    answers = {t.removeprefix("answer-"): _source(c) for c in cells for t in _tags(c) if t.startswith("answer-")}
    seen = set()
    for c in cells:
        tags = _tags(c)
        if c.get("cell_type") == "code" and REPORT_TAG in tags:
            body += _outputs(c) or ['<p class="missing">(no output: this cell did not run)</p>']
        for wid in (t.removeprefix("written-") for t in tags if t.startswith("written-")):
            seen.add(wid)
            body.append(f'<div class="q">{_markdown(_source(c))}</div>')
            answer = answers.get(wid, "").strip()
            if not answer or answer == PLACEHOLDER:
                body.append('<div class="a missing"><p>(not answered yet)</p></div>')
            else:
                body.append(f'<div class="a">{_markdown(answer)}</div>')
    for w in WRITTEN:
        if w.notebook == part.notebook and w.id not in seen:
            body.append(f'<p class="missing">Written question {html.escape(w.id)} is not in {html.escape(path.name)}: '
                        f'an executed copy older than the question? <code>make run ONLY={part.notebook}</code></p>')
    return "run", "\n".join(body)


def _check_folder(executed: Path) -> Path:
    executed = Path(executed)
    if not executed.is_dir():
        raise FileNotFoundError(f"no executed notebooks in {executed}: run `make run` first (it executes the "
                                f"notebooks into figures/executed/), or name the folder with --executed")
    return executed


def _page(sections: list[tuple[Part, str, str]]) -> str:
    toc, parts = [], []
    for part, status, body in sections:
        anchor = f"part-{part.notebook}"
        title = html.escape(f"{part.notebook} · {part.title}")
        toc.append(f'<li><a href="#{anchor}">{title}</a>' + (" (not run yet)" if status != "run" else "") + "</li>")
        parts.append(f'<section id="{anchor}">\n<h2>{title}</h2>\n{body}\n</section>')
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>CS180 project page</title>\n"
            f"<style>\n{STYLE}\n</style>\n</head>\n<body>\n<h1>CS180 project page</h1>\n"
            "<p>Built by <code>make report</code> from the executed notebooks: each part's figures and printed "
            "numbers, and the answers to its written questions.</p>\n"
            f"<ol>\n{chr(10).join(toc)}\n</ol>\n{chr(10).join(parts)}\n</body>\n</html>\n")


def _sections(executed: Path) -> list[tuple[Part, str, str]]:
    executed = _check_folder(executed)
    return [(part, *section(part, notebook_in(executed, part.notebook))) for part in PARTS]


def build_report(executed: Path) -> str:
    """The page, from the executed notebooks in ``executed``; FileNotFoundError (one line) when the folder is
    missing."""
    return _page(_sections(executed))


def write_report(executed: Path, out: Path) -> tuple[Path, list[str]]:
    """Write the page to ``out``; returns it and the notebooks of the parts not run yet."""
    sections = _sections(executed)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_page(sections), encoding="utf-8")
    return out, [part.notebook for part, status, _ in sections if status != "run"]
