"""A pytest plugin for nbval: run each student notebook up to its first TODO, and no further.

    pytest -p cs180utils.machinery.assignment.nbval_todo --nbval-lax notebooks/

A cell that fails with the ``TodoError`` of an unwritten function is reported as an expected failure (xfail)
and the notebook's remaining cells are skipped; any other error before it fails as usual. So the run passes
exactly when every notebook executes cleanly up to the first cell that needs a student's function, and stops
there with the TODO message. With ``CS180_TODO_REPORT=path.json`` it writes, per notebook, the cells that
passed, the cell that stopped it and the question named in the message.
"""
from __future__ import annotations

import json
import os
import re

import pytest

_stopped: dict[str, dict] = {}     # notebook -> {"cell": index, "question": qid, "message": ...}
_passed: dict[str, int] = {}
_failed: dict[str, list[int]] = {}


def _cell(item) -> tuple[str, int] | None:
    """(notebook path, cell number) of an nbval cell item, else None."""
    if type(item).__name__ != "IPyNbCell":
        return None
    return str(item.parent.path), int(getattr(item, "cell_num", -1))


def pytest_runtest_setup(item):
    where = _cell(item)
    if where and where[0] in _stopped:
        pytest.skip(f"after the notebook's first TODO ({_stopped[where[0]]['question']})")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    where = _cell(item)
    if where is None or report.when != "call":
        return
    nb, cell = where
    if report.failed:
        text = re.sub(r"\x1b\[[0-9;]*m", "", report.longreprtext or "")
        m = re.search(r"TodoError: TODO (\w+) [^\n]*", text)
        if m and nb not in _stopped:
            _stopped[nb] = {"cell": cell, "question": m.group(1), "message": m.group(0)[:300]}
            report.outcome = "skipped"
            report.wasxfail = f"stopped at its first TODO: {m.group(0)[:200]}"
        else:
            _failed.setdefault(nb, []).append(cell)
    elif report.passed:
        _passed[nb] = _passed.get(nb, 0) + 1


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("CS180_TODO_REPORT")
    if not path:
        return
    notebooks = sorted(set(_passed) | set(_stopped) | set(_failed))
    report = {os.path.basename(nb): {"cells_passed": _passed.get(nb, 0), "stopped_at": _stopped.get(nb),
                                     "failed_cells": _failed.get(nb, [])} for nb in notebooks}
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
