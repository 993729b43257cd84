"""make run's notebook runner and make clean-outputs' stripper, on throw-away notebooks."""
import os

import nbformat
import pytest

from cs180utils.machinery import workbook


def _write(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_notebooks_sorted_and_filtered(tmp_path):
    for name in ("02_b.ipynb", "01_a.ipynb", "10_c.ipynb", "notes.ipynb"):
        _write(tmp_path / name, ["1"])
    assert [p.name for p in workbook.notebooks(folder=tmp_path)] == ["01_a.ipynb", "02_b.ipynb", "10_c.ipynb"]
    assert [p.name for p in workbook.notebooks(["2", "10"], folder=tmp_path)] == ["02_b.ipynb", "10_c.ipynb"]


def test_strip_removes_outputs(tmp_path):
    path = _write(tmp_path / "01_x.ipynb", ["print(1)"])
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells[0].execution_count = 3
    nbformat.write(nb, path)
    assert workbook.strip([path]) == 1
    cell = nbformat.read(path, as_version=4).cells[0]
    assert cell.outputs == [] and cell.execution_count is None
    assert workbook.strip([path]) == 0  # idempotent


def test_run_executes_in_order_and_reports_failures(tmp_path, capfd):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _write(nbs / "01_ok.ipynb", ["import os; open('ran.txt', 'w').write(os.getcwd())"])
    _write(nbs / "02_bad.ipynb", ["raise ValueError('boom')"])
    out = tmp_path / "executed"
    rc = workbook.run(folder=nbs, out_dir=out, profile="smoke", timeout=120)
    assert rc == 1  # one failed
    assert (nbs / "ran.txt").read_text() == str(nbs)  # kernel runs in the notebook's folder
    assert (out / "01_ok.ipynb").exists() and (out / "02_bad.ipynb").exists()
    captured = capfd.readouterr()    # the kernels' own output too: they write to the inherited descriptors
    text = captured.out
    assert "FAILED" in text and "02_bad.ipynb" in text and "ValueError: boom" in text
    assert "\x1b[" not in text  # the one-line summary carries no terminal colour codes
    if os.name == "posix":       # kernels over IPC sockets: no warning about unencrypted TCP per notebook
        assert "without encryption" not in captured.err


def test_data_notice_names_missing_data(tmp_path, monkeypatch):
    monkeypatch.setenv("CS180_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CS180_CACHE_DIR", str(tmp_path / "cache"))
    notice = workbook.data_notice()
    assert notice is not None
    for name in ("lego", "imm", "ibug300w", "fox"):
        assert f"- {name} " in notice


def test_data_notice_silent_with_real_data(real_data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("CS180_CACHE_DIR", str(tmp_path))
    from PIL import Image   # the fox photo is not in the shared data; cache a stand-in (an empty file is refused)
    Image.new("RGB", (4, 3)).save(tmp_path / "fox.jpg")
    assert workbook.data_notice() is None


def test_sigterm_stops_the_run_and_its_kernel(tmp_path):
    """SIGTERM (or Ctrl-C) during a cell ends the whole run with 130: the kernel is shut down and the next
    notebook is not started (nbclient alone would let the cell fail and go on)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _write(nbs / "01_slow.ipynb", ["import os, time\nopen('kernel.pid', 'w').write(str(os.getpid()))\ntime.sleep(120)"])
    _write(nbs / "02_next.ipynb", ["open('second.txt', 'w').write('ran')"])
    code = (f"import sys; from pathlib import Path; from cs180utils.machinery import workbook; "
            f"sys.exit(workbook.run(folder=Path({str(nbs)!r}), out_dir=Path({str(tmp_path / 'out')!r}), profile='smoke'))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    pid_file = nbs / "kernel.pid"
    deadline = time.monotonic() + 90
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pid_file.exists(), "the first notebook never started"
    kernel_pid = int(pid_file.read_text())
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "STOPPED" in out and "01_slow.ipynb" in out
    assert not (nbs / "second.txt").exists()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(kernel_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"kernel {kernel_pid} still running after the run stopped")


def test_parameters_are_injected_after_the_parameters_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os"), nbformat.v4.new_code_cell("SIZE = 64\nNAME = 'hopper'"),
                nbformat.v4.new_code_cell("print(SIZE)")]
    nb.cells[1].metadata["tags"] = ["parameters"]
    assert workbook.inject(nb, {"SIZE": 400, "NAME": workbook.literal("fox")})
    assert nb.cells[2].metadata["tags"] == ["injected-parameters"]
    assert "SIZE = 400\nNAME = 'fox'" in nb.cells[2].source
    assert workbook.literal("(1, 2)") == (1, 2) and workbook.literal("None") is None
    assert not workbook.inject(nb, {}) and len(nb.cells) == 4
    with pytest.raises(ValueError, match="not a Python name"):
        workbook.inject(nb, {"a b": 1})


def test_capped_run_caps_by_name_turns_asserts_off_and_writes_elsewhere(tmp_path, monkeypatch):
    """--capped: the full profile, CS180_CAPPED=1 in the kernel, lengths capped after the parameters cell,
    asserts off (quality floors), runs and figures in the given folder, the environment restored after."""
    monkeypatch.delenv("CS180_CAPPED", raising=False)
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    path = _write(nbs / "01_capped.ipynb", [
        "GRID_STEPS = 2000\nVIDEO_SIZE = 400",
        "import os, json\nassert False, 'asserts are off'\n"
        "open('seen.json', 'w').write(json.dumps([GRID_STEPS, VIDEO_SIZE, os.environ['CS180_PROFILE'], "
        "os.environ['CS180_CAPPED'], os.environ['CS180_RUNS_DIR']]))"])
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].metadata["tags"] = ["parameters"]
    nbformat.write(nb, path)
    rc = workbook.run(folder=nbs, out_dir=tmp_path / "out", capped=True, keep=tmp_path / "work", timeout=120)
    assert rc == 0
    import json
    assert json.loads((nbs / "seen.json").read_text()) == [2, 400, "full", "1", str(tmp_path / "work" / "runs")]
    import os
    assert "CS180_CAPPED" not in os.environ and os.environ.get("PYTHONOPTIMIZE") is None


def test_executed_notebooks_keep_their_widgets_and_are_trusted(tmp_path, monkeypatch):
    """Reopened in JupyterLab, a widget of an executed notebook shows only if its model is saved in the notebook
    ("Error displaying widget: model not found" otherwise) and the notebook is trusted (its repr's text
    otherwise): both, for a notebook that passed and for one that failed after its widget (nbclient saves widget
    state only when every cell passed)."""
    from nbformat.sign import NotebookNotary

    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))   # the signature database and its secret
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    widget = "import ipywidgets as w\nw.VBox([w.IntSlider(3), w.Output()])"
    _write(nbs / "01_ok.ipynb", [widget])
    _write(nbs / "02_bad.ipynb", [widget, "raise ValueError('boom')"])
    out = tmp_path / "executed"
    assert workbook.run(folder=nbs, out_dir=out, profile="smoke", timeout=120) == 1
    for name in ("01_ok.ipynb", "02_bad.ipynb"):
        nb = nbformat.read(out / name, as_version=4)
        views = [o.data["application/vnd.jupyter.widget-view+json"]["model_id"] for o in nb.cells[0].outputs
                 if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        assert len(views) == 1 and state[views[0]]["model_name"] == "VBoxModel", name
        children = [c.removeprefix("IPY_MODEL_") for c in state[views[0]]["state"]["children"]]
        assert [state[c]["model_name"] for c in children] == ["IntSliderModel", "OutputModel"], name
        assert NotebookNotary().check_signature(nb), f"{name} is not signed as trusted"
