"""Drive JupyterLab in a real browser, as a student uses the workbook: a JupyterLab server on 127.0.0.1 over a
temporary copy of the notebooks, headless Chromium (Debian's ``chromium`` package) through Playwright.

    with lab_server(tmp_path, env) as url, browser_page() as page:
        nb = open_notebook(page, url, "01_neural_field_2d.ipynb")
        run_all(page)
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def chromium_path() -> str | None:
    """The system Chromium (``$CS180_CHROMIUM`` first); Playwright cannot download its own browser here."""
    for p in (os.environ.get("CS180_CHROMIUM"), *CHROMIUM_CANDIDATES):
        if p and Path(p).is_file():
            return p
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def lab_server(root: Path, env: dict[str, str], timeout: float = 90.0):
    """JupyterLab serving ``root`` on 127.0.0.1; yields the base URL with its token (``http://…/lab?token=…``)."""
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
           f"--IdentityProvider.token={token}", "--ServerApp.allow_root=True", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
           "--ServerApp.port_retries=0", "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(root / "jupyterlab.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n" + (root / "jupyterlab.log").read_text()[-3000:])
                time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def copy_notebooks(src: Path, dst: Path, names: list[str]) -> Path:
    """Copies of the committed notebooks (JupyterLab saves what it runs; the checkout must not change)."""
    dst.mkdir(parents=True, exist_ok=True)
    for n in names:
        shutil.copy2(src / n, dst / n)
    return dst


# JavaScript run in the page. `window.jupyterapp` exists because of --LabApp.expose_app_in_browser.
_STATE_JS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!w || !w.content || !w.content.model || !w.sessionContext) return null;
  const cells = [];
  const m = w.content.model;
  for (let i = 0; i < m.cells.length; i++) {
    const c = m.cells.get(i);
    if (c.type !== 'code') continue;
    const outs = [];
    for (let j = 0; j < c.outputs.length; j++) {
      const o = c.outputs.get(j).toJSON();
      outs.push({type: o.output_type, name: o.name || null, ename: o.ename || null,
                 text: (o.text || (o.traceback || []).join('\\n') || '').toString().slice(0, 2000),
                 plain: [].concat((o.data || {})['text/plain'] || []).join('').slice(0, 300),
                 mimes: Object.keys(o.data || {})});
    }
    cells.push({count: c.executionCount, outputs: outs});
  }
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  return {status: k ? k.status : 'none', cells: cells};
}"""


def notebook_state(page) -> dict | None:
    return page.evaluate(_STATE_JS)


def open_notebook(page, base: str, token: str, name: str, timeout: float = 120.0) -> None:
    """Open ``name`` in JupyterLab and wait for its kernel to be idle."""
    # a workspace of its own, reset: JupyterLab would otherwise restore the notebooks opened before beside it
    page.goto(f"{base}/lab/workspaces/{Path(name).stem}/tree/{name}?reset&token={token}")
    wait_for(page, lambda s: s is not None and s["status"] == "idle", timeout, f"{name}: kernel idle")


def wait_for(page, cond, timeout: float, what: str) -> dict:
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = notebook_state(page)
        if cond(state):
            return state
        page.wait_for_timeout(500)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}; last state: "
                       f"{None if state is None else {'status': state['status'], 'counts': [c['count'] for c in state['cells']]}}")


def run_all(page, timeout: float = 900.0) -> dict:
    """Run every cell (Run → Run All Cells) and wait until each code cell has run and the kernel is idle, or a
    cell failed (JupyterLab then stops running the rest)."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_timeout(1000)

    def done(s):
        if s is None:
            return False
        if any(o["type"] == "error" for c in s["cells"] for o in c["outputs"]):
            return s["status"] == "idle"
        return s["status"] == "idle" and all(c["count"] is not None for c in s["cells"])

    return wait_for(page, done, timeout, "all cells to run")


# the text of a value nobody asked to see: an object's default repr (`<... object at 0x7f...>`,
# `<torch._C.Generator object at ...>`) or a widget's (`FileUpload(value=(), ...)`, `interactive(children=...`)
_UNWANTED_VALUE = re.compile(r"^<[^>]*( object at 0x[0-9a-fA-F]+|Generator)"
                             r"|^(FileUpload|VBox|HBox|Box|Output|interactive|[A-Za-z]*Slider|Button)\(")


def unwanted_value(output: dict) -> bool:
    """Whether a cell output (``type``, ``plain``: its text/plain, ``mimes``) is a return value shown by accident:
    a cell whose last line returns a widget (shown again beside the one the helper displayed) or an object whose
    repr means nothing to a student."""
    if output["type"] != "execute_result":
        return False
    return ("application/vnd.jupyter.widget-view+json" in output["mimes"]
            or bool(_UNWANTED_VALUE.search(output["plain"].strip())))


def problems(state: dict) -> list[str]:
    """Error outputs and stderr streams a student would see as red boxes, and values shown by accident
    (:func:`unwanted_value`)."""
    out = []
    for i, c in enumerate(state["cells"]):
        for o in c["outputs"]:
            if o["type"] == "error":
                out.append(f"code cell {i}: {o['ename']}: {o['text'][-600:]}")
            elif o["type"] == "stream" and o["name"] == "stderr" and o["text"].strip():
                out.append(f"code cell {i}: stderr: {o['text'][:300]}")
            elif unwanted_value(o):
                out.append(f"code cell {i}: shows its last line's value {o['plain'][:120]!r} (end the cell with "
                           f"a call that returns None, an assignment or ';')")
    return out
