"""``check("volrend")``: a question's public checks (``cases.py``), run in this process on the files as they are
on disk, in a few seconds; and ``progress()``, every question's state (``make test`` in the student edition).

The course's modules are reloaded from disk first, so an edited file is checked as edited even when the
notebook's kernel imported the old one. A failure says, in plain words, which input, what was expected and what
came; in a notebook the report is HTML (escaped).
"""
from __future__ import annotations

import html
import importlib
import sys
import time
from dataclasses import dataclass

from cs180utils.machinery.assignment.questions import QUESTIONS, marked_files, question

NOT_WRITTEN, FAILING, PASSING = "not written", "failing", "passing"


@dataclass(frozen=True)
class Result:
    qid: str
    name: str
    passed: bool
    message: str          # "passed", or what is wrong, in words
    todo: str | None      # the question whose stub was reached, if one was


def reload_course() -> None:
    """Re-read the graded modules from disk (dependencies first: the encodings before the fields that use them)."""
    names = [rel.removesuffix(".py").replace("/", ".") for rel in marked_files()]
    names.sort(key=lambda n: (n != "cs180utils.encodings", n))
    importlib.invalidate_caches()
    for name in names:
        if name in sys.modules:
            importlib.reload(sys.modules[name])


def run_public(qid: str, seed: int = 0) -> list[Result]:
    """The public checks of question ``qid`` on the functions as they are loaded now."""
    from cs180utils.machinery.assignment import cases as C  # noqa: PLC0415
    from cs180utils.machinery.assignment.todo import TodoError  # noqa: PLC0415

    out = []
    for c in C.cases(qid, hidden=False):
        try:
            outputs = C.run_probe(c, seed)
        except TodoError as e:
            todo = str(e).split(" ", 2)[1] if str(e).startswith("TODO ") else qid
            msg = "not written yet" if todo == qid else f"needs question {todo} first (not written yet)"
            out.append(Result(qid, c.name, False, msg, todo))
            continue
        except Exception as e:  # noqa: BLE001  (the student's code raised: say what)
            out.append(Result(qid, c.name, False, f"{type(e).__name__}: {e}", None))
            continue
        why = C.judge(c, outputs, seed)
        out.append(Result(qid, c.name, why is None, why or "passed", None))
    return out


def state(results: list[Result]) -> str:
    """passing, not written, "needs <q>" (a stub of another question was reached first) or failing."""
    if all(r.passed for r in results):
        return PASSING
    todos = {r.todo for r in results if not r.passed}
    if None not in todos and not any(r.passed for r in results):
        return NOT_WRITTEN if todos == {results[0].qid} else "needs " + ", ".join(sorted(todos - {results[0].qid}))
    return FAILING


class CheckReport:
    """The public checks of some questions; shows itself as text and, in a notebook, as HTML."""

    def __init__(self, results: dict[str, list[Result]], seconds: float):
        self.results, self.seconds = results, seconds
        self.summary = {"score": round(sum(self.points(q) for q in results), 4),
                        "max_score": sum(question(q).points for q in results),
                        "points": {q: round(self.points(q), 4) for q in results},
                        "states": {q: state(r) for q, r in results.items()}, "seconds": round(seconds, 2)}

    def points(self, qid: str) -> float:
        rs = self.results[qid]
        return question(qid).points * sum(r.passed for r in rs) / max(len(rs), 1)

    @property
    def passed(self) -> bool:
        return all(r.passed for rs in self.results.values() for r in rs)

    def rows(self) -> list[tuple[str, str, str, str]]:
        rows = []
        for qid, rs in self.results.items():
            first = next((r for r in rs if not r.passed), None)
            why = "" if first is None else (first.message if first.todo == qid else f"{first.name}: {first.message}")
            rows.append((qid, state(rs), f"{sum(r.passed for r in rs)}/{len(rs)}", why))
        return rows

    def __repr__(self) -> str:
        rows = [("question", "state", "checks", "first problem")] + self.rows()
        w = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = ["  ".join(c.ljust(x) for c, x in zip(r[:3], w)) + ("  " + r[3] if r[3] else "") for r in rows]
        return "\n".join(lines) + (f"\n(public checks, {self.seconds:.1f} s; the autograder adds hidden ones on other "
                                   f"inputs)")

    def _repr_html_(self) -> str:
        colour, GREY = {PASSING: "#1a7f37", FAILING: "#cf222e"}, "#6e7781"
        out = ["<table><tr><th>question</th><th>state</th><th>checks</th><th>first problem</th></tr>"]
        for qid, st, n, why in self.rows():
            out.append(f"<tr><td><code>{html.escape(qid)}</code></td><td style='color:{colour.get(st, GREY)}'>"
                       f"<b>{html.escape(st)}</b></td><td>{html.escape(n)}</td>"
                       f"<td style='text-align:left'>{html.escape(why)}</td></tr>")
        out.append(f"</table><p><small>public checks ({self.seconds:.1f} s); the autograder adds hidden ones on "
                   f"other inputs</small></p>")
        return "".join(out)


def check(*qids: str) -> CheckReport:
    """Run the public checks of the questions ``qids`` (all when none are given) on the files on disk."""
    t0 = time.perf_counter()
    qids = list(qids) or [q.id for q in QUESTIONS]
    for qid in qids:
        question(qid)   # a clear error for a misspelt name
    reload_course()
    return CheckReport({qid: run_public(qid) for qid in qids}, time.perf_counter() - t0)
