"""Run the whole workbook headless (``make run``) and keep notebooks clean (``make clean-outputs``).

    python -m cs180utils.machinery.workbook run [--profile cpu] [--only 01 03] [--timeout 3600] [-p NAME VALUE ...]
    python -m cs180utils.machinery.workbook run --capped      # the full profile's sizes, a couple of steps each (CI)
    python -m cs180utils.machinery.workbook strip

``run`` executes ``notebooks/NN_*.ipynb`` in order in a fresh kernel each, with the notebook folder as working
directory, and writes the executed copies to ``figures/executed/`` (figures themselves are written by the
notebooks under ``figures/NN_name/``), each with its widgets' state and signed as trusted, so that its sliders
show when it is reopened in JupyterLab (:func:`save_widgets`).  Missing real data is reported once, up front; the notebooks then run
on their generated stand-ins.  A failing notebook does not stop the others; the exit code says whether all
passed; Ctrl-C or SIGTERM stops the run and its kernel.

Parameters are injected as papermill does: ``-p NAME VALUE`` (VALUE a Python literal, else a string) becomes a
cell tagged ``injected-parameters`` right after the notebook's ``parameters`` cell, so it overrides the
profile's choice there (every notebook that has NAME gets it). ``--capped`` runs the full profile capped
(:mod:`cs180utils.machinery.capped`): ``CS180_CAPPED=1``, an injected cell that caps the parameters by name, the kernel with
Python's asserts off (quality floors cannot hold after two steps), and runs and figures in a fresh temporary
folder (never the real ``runs/`` and ``figures/``; its runs are deleted at the end; ``--keep`` names a folder
to use instead, and keeps it).
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

from cs180utils.machinery import capped as _capped
from cs180utils.machinery import config, data

NOTEBOOKS_DIR = config.REPO_ROOT / "notebooks"

# dataset name -> the notebooks that use it (for the one notice about missing data)
DATA_USED_BY = {"fox": "01", "lego": "02-04, 10", "imm": "05-06", "ibug300w": "07-09"}


def notebooks(only: list[str] | None = None, folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The workbook's notebooks in order (``NN_*.ipynb``), optionally only those whose number is in ``only``."""
    found = sorted(p for p in Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [p for p in found if p.name[:2] in {o.zfill(2) for o in only}]
    return found


def data_notice() -> str | None:
    """One paragraph naming every dataset that is not present locally and how to get it, or None."""
    missing = []
    for name, used_by in DATA_USED_BY.items():
        if data.locate(name) is None:
            missing.append(f"  - {name} (notebooks {used_by}): {data.how_to_get(name)}")
    if not missing:
        return None
    return ("NOTICE: real data not found for the datasets below; those notebooks run on generated or bundled "
            "stand-ins (results are illustrative, not the course's). To use the real data:\n" + "\n".join(missing))


def literal(text: str) -> Any:
    """A ``-p NAME VALUE`` value: a Python literal (``3``, ``None``, ``(1, 2)``, ``'fox'``), else the text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def inject(nb, parameters: Mapping[str, Any] | None = None, capped: bool = False) -> bool:
    """Insert the ``injected-parameters`` cell after ``nb``'s ``parameters`` cell (or at the top when it has
    none): ``NAME = value`` for each of ``parameters``, then, when ``capped``, the cap of
    :data:`cs180utils.machinery.capped.INJECTED_SOURCE`. Returns whether a cell was inserted."""
    import nbformat  # noqa: PLC0415

    lines = [f"{name} = {value!r}" for name, value in (parameters or {}).items()]
    if capped:
        lines.append(_capped.INJECTED_SOURCE)
    if not lines:
        return False
    for name in parameters or {}:
        if not name.isidentifier():
            raise ValueError(f"parameter name {name!r} is not a Python name")
    cell = nbformat.v4.new_code_cell("# injected by cs180utils.machinery.workbook run\n" + "\n".join(lines))
    cell.metadata["tags"] = [_capped.INJECTED_TAG]
    at = next((i + 1 for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), 0)
    nb.cells.insert(at, cell)
    return True


@contextlib.contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """``os.environ`` with ``values`` set (None: removed) inside the block, as it was after it."""
    before = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(only: list[str] | None = None, profile: str | None = None, timeout: int = 3600,
        out_dir: Path | None = None, folder: Path = NOTEBOOKS_DIR, parameters: Mapping[str, Any] | None = None,
        capped: bool = False, keep: Path | None = None) -> int:
    """Execute the notebooks (see the module doc); 0 when all passed, 1 when one failed, 130 when stopped."""
    if not capped:
        with environment(CS180_PROFILE=config.get_profile(profile) if profile else os.environ.get("CS180_PROFILE")):
            return _run(only, timeout, out_dir, folder, parameters, False)
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="cs180-capped-"))
    # CS180_ALLOW_STANDIN: the capped run checks code paths, not results; a dataset this machine lacks (CI has no
    # fox.jpg and no internet) runs on its stand-in instead of stopping the full profile's notebook
    with environment(CS180_PROFILE=config.get_profile(profile or "full"), CS180_CAPPED="1", PYTHONOPTIMIZE="1",
                     CS180_ALLOW_STANDIN="1",
                     CS180_RUNS_DIR=str(work / "runs"), CS180_FIGURES_DIR=str(work / "figures")):
        print(f"capped run: CS180_CAPPED=1, asserts off in the kernels, runs and figures in {work}", flush=True)
        try:
            return _run(only, timeout, out_dir, folder, parameters, True)
        finally:
            if not keep:   # the checkpoints (hundreds of MB at the full sizes); figures and executed notebooks stay
                shutil.rmtree(work / "runs", ignore_errors=True)


def _kernel_config(socket_dir: str):
    """The kernels' traitlets config: on POSIX they talk over local IPC sockets in ``socket_dir`` (an absolute
    path: a kernel runs in its notebook's folder) instead of TCP, over which, unencrypted, ipykernel prints a
    warning about eavesdropping into make run's output once per notebook."""
    from traitlets.config import Config  # noqa: PLC0415

    cfg = Config()
    if os.name == "posix":
        cfg.KernelManager.transport = "ipc"
        cfg.KernelManager.ip = os.path.join(os.path.abspath(socket_dir), "kernel")
    return cfg


def _run(only, timeout, out_dir, folder, parameters, capped) -> int:
    import nbformat  # noqa: PLC0415
    from nbclient import NotebookClient  # noqa: PLC0415
    from nbclient.exceptions import CellExecutionError  # noqa: PLC0415

    out_dir = Path(out_dir) if out_dir else config.figures_dir("executed")
    out_dir.mkdir(parents=True, exist_ok=True)
    books = notebooks(only, folder)
    if not books:
        print(f"no notebooks found in {folder}", file=sys.stderr)
        return 1
    print(f"cs180 workbook: {len(books)} notebooks, {config.describe()}", flush=True)
    notice = data_notice()
    if notice:
        print(notice, flush=True)
    results = []
    sockets = tempfile.TemporaryDirectory(prefix="cs180-kernels-")   # the kernels' IPC sockets (POSIX)
    for path in books:
        nb = nbformat.read(path, as_version=4)
        inject(nb, parameters, capped)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", config=_kernel_config(sockets.name),
                                resources={"metadata": {"path": str(path.parent)}})
        # nbclient imitates a browser for ipywidgets' Output widget (the one `interact` draws into). That
        # imitation hung make run at notebook 01's slider cell once its grid was freshly trained: the kernel
        # went idle, nbclient never finished the cell, and a kill ended it with a bare AssertionError from
        # its output-hook bookkeeping. Headless runs don't need it: the slider's first picture is drawn by a
        # direct call anyway (it lands in the cell's outputs), and widget state is still recorded (below).
        client.comm_open_handlers = {"jupyter.widget": lambda msg: None}
        t0 = time.perf_counter()
        status, error = "ok", ""
        try:
            client.execute()
        except CellExecutionError as exc:
            text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # the kernel's traceback carries ANSI colours
            status, error = "FAILED", text.splitlines()[-1] if text else repr(exc)
        except Exception as exc:  # kernel died, timeout, ...
            status, error = "FAILED", f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - t0
        # Ctrl-C or SIGTERM during a cell: nbclient's own handler shuts the kernel down and the cell then fails
        # like any other; without this check the run would go on with the next notebook.
        interrupted = getattr(client, "_async_cleanup_kernel_future", None) is not None
        if interrupted:
            status, error = "STOPPED", "interrupted (Ctrl-C or SIGTERM); the notebooks after it were not run"
        save_widgets(client, nb, path.name)
        nbformat.write(nb, out_dir / path.name)
        results.append((path.name, status, seconds, error))
        print(f"{status:>6}  {seconds:7.1f} s  {path.name}" + (f"  -- {error}" if error else ""), flush=True)
        if interrupted:
            break
    sockets.cleanup()
    total = sum(r[2] for r in results)
    failed = [r for r in results if r[1] == "FAILED"]
    stopped = results[-1][1] == "STOPPED"
    print(f"done in {total:.0f} s; executed notebooks in {out_dir}; figures in {config.figures_dir()}"
          + (f"; {len(failed)} FAILED: {', '.join(r[0] for r in failed)}" if failed else "")
          + (f"; STOPPED in {results[-1][0]}, {len(books) - len(results)} not run" if stopped else ""), flush=True)
    return 130 if stopped else 1 if failed else 0


def save_widgets(client, nb, name: str = "the notebook") -> None:
    """Make the widgets of an executed notebook show when it is reopened in JupyterLab: their state (every model
    the kernel opened) goes into ``nb.metadata.widgets``, which nbclient writes only when every cell passed, so a
    failed or stopped notebook gets it too; then ``nb`` is signed as trusted (``jupyter trust``: its outputs
    are this user's own run). JupyterLab draws a saved widget only in a trusted notebook (else the text of its
    repr, ``interactive(children=(IntSlider(...``), and only when its model was saved (else "Error displaying
    widget: model not found")."""
    from nbformat.sign import NotebookNotary  # noqa: PLC0415

    if client.widget_state:
        client.set_widgets_metadata()
    try:
        NotebookNotary().sign(nb)
    except Exception as exc:  # noqa: BLE001 - an unwritable signature database: the notebook is still saved
        print(f"note: could not sign {name} as trusted ({type(exc).__name__}: {exc}); `jupyter trust` it to see its "
              f"widgets", file=sys.stderr, flush=True)


def strip(paths: list[Path] | None = None) -> int:
    """Remove outputs and execution counts from the notebooks in place; returns how many changed."""
    import nbformat  # noqa: PLC0415

    changed = 0
    for path in paths or notebooks():
        nb = nbformat.read(path, as_version=4)
        dirty = False
        for cell in nb.cells:
            if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
                cell["outputs"], cell["execution_count"] = [], None
                dirty = True
        if dirty:
            nbformat.write(nb, path)
            changed += 1
            print(f"stripped {path.name}")
    return changed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cs180utils.machinery.workbook", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="execute the notebooks in order, headless")
    r.add_argument("--profile", choices=config.PROFILES, default=None)
    r.add_argument("--only", nargs="*", default=None, help="notebook numbers, e.g. --only 01 03")
    r.add_argument("--timeout", type=int, default=3600, help="seconds per cell (default 3600)")
    r.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="set NAME = VALUE (a Python literal) after each notebook's parameters cell")
    r.add_argument("--capped", action="store_true",
                   help="the full profile's sizes with steps, epochs and data capped (CI; cs180utils/machinery/capped.py)")
    r.add_argument("--keep", type=Path, default=None,
                   help="with --capped: write runs and figures in this folder (default: a fresh temporary one)")
    r.add_argument("--out", type=Path, default=None, help="where the executed notebooks go (default figures/executed)")
    sub.add_parser("strip", help="remove outputs from the committed notebooks")
    args = p.parse_args(argv)
    if args.cmd == "run":
        params = {name: literal(value) for name, value in args.parameter}
        return run(args.only, args.profile, args.timeout, out_dir=args.out, parameters=params, capped=args.capped,
                   keep=args.keep)
    strip()
    return 0


if __name__ == "__main__":
    sys.exit(main())
