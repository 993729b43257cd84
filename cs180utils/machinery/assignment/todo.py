"""What a student's unimplemented function raises: one message naming the question, the notebook section and the
formula to write, instead of a deep traceback.

In the student edition every marked body is ``raise todo("<question>", "<function>")``. In Jupyter the
``_render_traceback_`` hook makes IPython show only the message (the cell still fails, so nbval and ``make run``
see the error); in plain Python it is an ordinary ``NotImplementedError`` with that message.
"""
from __future__ import annotations

import textwrap


class TodoError(NotImplementedError):
    """A function of the assignment that is not written yet; ``str(e)`` says what to write and where."""

    def _render_traceback_(self) -> list[str]:  # IPython: show this instead of the traceback
        lines = textwrap.wrap(str(self), 110, subsequent_indent="    ", break_on_hyphens=False)
        return ["\x1b[1;31mTodoError\x1b[0m: " + lines[0], *lines[1:]]


def message(qid: str, function: str | None = None) -> str:
    """The TODO message of question ``qid`` raised in ``function`` (its qualified name)."""
    from cs180utils.machinery.assignment.questions import question  # noqa: PLC0415

    q = question(qid)
    parts = {key.split("::")[1]: (key.split("::")[0], hint) for key, hint in q.parts.items()}
    if function not in parts:
        function = next(iter(parts))
    path, hint = parts[function]
    return (f"TODO {q.id} ({q.points} points, notebook {q.notebook} · {q.section}): write {function} in {path}: "
            f"{hint} Check it with check({q.id!r}) or: python -m cs180utils.machinery.assignment check {q.id}")


def todo(qid: str, function: str | None = None) -> TodoError:
    """The exception a stub raises: ``raise todo("volrend", "render_weights")``."""
    return TodoError(message(qid, function))
