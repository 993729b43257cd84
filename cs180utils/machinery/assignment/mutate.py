"""Plausible wrong answers must lose their question's points: the CI check that the question tests can fail.

A :class:`Mutation` replaces one piece of a question's solution (``old`` -> ``new``, inside one of its
``# BEGIN SOLUTION`` blocks) with a mistake a student could make: a sign flip, pixel corners instead of
centres, the positional encoding without the raw x, transmittance including the current sample, ...

All mutations run in one process: each mutated module is compiled and its functions' code objects are swapped
in place (the functions the cases call are the same objects, so they run the mistake), the question's cases
(``cases.py``) run, and the code is swapped back. A mistake must fail a *public* case (what a student's
``check()`` shows, with its plain message), and lose points when graded (every case, against the reference).

    python -m cs180utils.machinery.assignment.mutate tests/assignment/mutations.py     # table, then one JSON line
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import inspect
import json
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path

from cs180utils.machinery.assignment import markers
from cs180utils.machinery.assignment.questions import QUESTIONS


@dataclass(frozen=True)
class Mutation:
    question: str      # the question whose points it must cost
    file: str          # repository-relative path of the module
    old: str           # text inside one of the question's SOLUTION blocks, once in the file
    new: str           # what a mistaken student wrote instead
    why: str           # the mistake, in words


def _codes(code: types.CodeType) -> dict[str, types.CodeType]:
    """Every code object nested in a module's code, by qualified name."""
    out = {}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out[const.co_qualname] = const
            out.update(_codes(const))
    return out


def _functions(module: types.ModuleType) -> list[types.FunctionType]:
    """The functions defined in a module: top level and in its classes (unwrapped), by identity."""
    seen, out = set(), []

    def add(obj):
        if isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
        if isinstance(obj, property):
            for f in (obj.fget, obj.fset, obj.fdel):
                if f is not None:
                    add(f)
            return
        obj = inspect.unwrap(obj) if callable(obj) else obj
        if isinstance(obj, types.FunctionType) and obj.__module__ == module.__name__ and id(obj) not in seen:
            seen.add(id(obj))
            out.append(obj)

    def visit_class(cls, depth=0):
        for v in vars(cls).values():
            if isinstance(v, type) and v.__module__ == module.__name__ and depth < 3:
                visit_class(v, depth + 1)
            else:
                add(v)

    for v in vars(module).values():
        if isinstance(v, type) and v.__module__ == module.__name__:
            visit_class(v)
        else:
            add(v)
    return out


@contextlib.contextmanager
def swapped(module: types.ModuleType, source: str, filename: str):
    """Run ``module``'s functions with the code compiled from ``source`` (same file name) until the block exits.

    Yields the qualified names swapped."""
    new = _codes(compile(source, filename, "exec"))
    done: list[tuple[types.FunctionType, types.CodeType]] = []
    try:
        for f in _functions(module):
            code = new.get(f.__code__.co_qualname)
            if code is not None and code.co_freevars == f.__code__.co_freevars:
                done.append((f, f.__code__))
                f.__code__ = code
        yield {f.__code__.co_qualname for f, _ in done}
    finally:
        for f, code in done:
            f.__code__ = code


def mutated(root: Path, m: Mutation) -> tuple[str, markers.Block]:
    """The mutated source of ``m.file`` and the SOLUTION block the change falls in (checked)."""
    text = (Path(root) / m.file).read_text()
    n = text.count(m.old)
    if n != 1:
        raise ValueError(f"mutation {m.why!r}: {m.old!r} occurs {n} times in {m.file}; it must occur once")
    at = text[:text.index(m.old)].count("\n")
    last = at + m.old.count("\n")
    block = next((b for b in markers.blocks(text, m.file) if b.begin < at and last < b.end), None)
    if block is None or block.qid != m.question:
        raise ValueError(f"mutation {m.why!r}: the change in {m.file} line {at + 1} is not inside a SOLUTION block "
                         f"of {m.question}")
    return text.replace(m.old, m.new), block


def run(root: Path, mutations: list[Mutation], seed: int = 0) -> list[dict]:
    """Apply each mutation in turn and judge its question's cases; one record per mutation.

    ``caught_public``: a public case (what ``check()`` runs, without any reference) fails, with its message;
    ``caught``: the question loses points when graded (every case, compared with the reference's outputs)."""
    from cs180utils.machinery.assignment import cases as C  # noqa: PLC0415

    root = Path(root).resolve()
    sys.path.insert(0, str(root))
    refs: dict[int, dict] = {}
    records = []
    for m in mutations:
        t0 = time.perf_counter()
        source, block = mutated(root, m)
        module = importlib.import_module(m.file.removesuffix(".py").replace("/", "."))
        if Path(module.__file__).resolve() != (root / m.file).resolve():
            raise RuntimeError(f"{module.__name__} was imported from {module.__file__}, not from {root}")
        mine = C.cases(m.question)
        for c in mine:
            if id(c) not in refs:
                refs[id(c)] = C.run_probe(c, seed)
        verdicts = []
        with swapped(module, source, module.__file__) as names:
            if block.function not in names:
                raise RuntimeError(f"mutation {m.why!r}: {block.function} of {m.file} could not be swapped")
            for c in mine:
                try:
                    out = C.run_probe(c, seed)
                except Exception as e:  # noqa: BLE001  (a mistake that crashes is caught too)
                    why = f"{type(e).__name__}: {e}"
                    verdicts.append((c, why, why))
                    continue
                verdicts.append((c, C.judge(c, out, seed), C.judge(c, out, seed, refs[id(c)])))
        public = next(((c, w) for c, w, _ in verdicts if not c.hidden and w), None)
        graded = [c for c, _, w in verdicts if w]
        records.append({"question": m.question, "why": m.why, "caught_public": public is not None,
                        "caught": bool(graded), "public_message": public[1] if public else None,
                        "failed_cases": [c.name for c in graded], "seconds": round(time.perf_counter() - t0, 2)})
    return records


def load_table(path: Path) -> list[Mutation]:
    spec = importlib.util.spec_from_file_location("cs180_mutations_table", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return list(mod.MUTATIONS)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cs180utils.machinery.assignment.mutate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", type=Path, help="a Python file defining MUTATIONS, a list of Mutation")
    p.add_argument("--root", type=Path, default=Path.cwd(), help="the repository (instructor edition)")
    p.add_argument("--only", nargs="*", help="only these questions")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    table = [m for m in load_table(args.table) if not args.only or m.question in args.only]
    records = run(args.root, table)
    width = max(len(r["why"]) for r in records)
    for r in records:
        flag = "" if r["caught_public"] else ("  NOT CAUGHT BY A PUBLIC CHECK" if r["caught"] else "  NOT CAUGHT")
        print(f"{r['question']:16s} {r['why']:{width}s}{flag}  {r['public_message'] or ''}"[:220])
    uncovered = sorted({q.id for q in QUESTIONS} - {m.question for m in table}) if not args.only else []
    summary = {"mutations": len(records), "caught": sum(r["caught"] for r in records),
               "caught_public": sum(r["caught_public"] for r in records),
               "not_caught": [f"{r['question']}: {r['why']}" for r in records
                              if not (r["caught"] and r["caught_public"])],
               "questions_without_mutation": uncovered, "records": records,
               "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(summary))
    return 0 if not summary["not_caught"] and not uncovered else 1


if __name__ == "__main__":
    sys.exit(main())
