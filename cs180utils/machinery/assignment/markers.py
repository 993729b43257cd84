"""The solution markers in the package's source, and the student version of a marked file.

A block a student writes (a function's body, or part of one) sits between a line ``# BEGIN SOLUTION <question>``
and a line ``# END SOLUTION``; in the student edition its lines become ``raise todo("<question>", "<function>")``
under a comment with the formula, and the instructor edition runs them as they are. Lines between
``# BEGIN HIDDEN`` and ``# END HIDDEN`` (the hidden tests' table) are dropped from the student edition.
A SOLUTION block lies inside one function; blocks do not nest.
"""
from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION (?P<qid>[A-Za-z0-9_]+)\s*$")
END = re.compile(r"^[ \t]*# END SOLUTION\s*$")
# the student edition keeps the answer's place marked: only the lines between these two are graded
START = re.compile(r"^(?P<indent>[ \t]*)# -+ START OF YOUR CODE \((?P<qid>[A-Za-z0-9_]+)\)")
STOP = re.compile(r"^[ \t]*# -+ END OF YOUR CODE \((?P<qid>[A-Za-z0-9_]+)\)")
BEGIN_HIDDEN = re.compile(r"^[ \t]*# BEGIN HIDDEN\s*$")
END_HIDDEN = re.compile(r"^[ \t]*# END HIDDEN\s*$")
TODO_IMPORT = "from cs180utils.machinery.assignment.todo import todo  # the stubs below raise it: what to write, and where"


class MarkerError(ValueError):
    pass


@dataclass(frozen=True)
class Block:
    qid: str          # the question
    begin: int        # 0-based line of "# BEGIN SOLUTION"
    end: int          # 0-based line of "# END SOLUTION"
    indent: str       # the marker's indentation
    function: str     # qualified name of the enclosing function, e.g. "NerfField.forward"


def _functions(tree: ast.AST) -> list[tuple[str, int, int]]:
    """(qualname, first line, last line) of every function, 1-based, outermost first."""
    out: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                out.append((name, child.lineno, child.end_lineno))
                visit(child, name + ".<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def has_blocks(text: str) -> bool:
    return any(BEGIN.match(line) for line in text.split("\n"))


def blocks(text: str, path: str = "<source>") -> list[Block]:
    """The SOLUTION blocks of a module's source, checked: paired, not nested, each inside one function."""
    lines = text.split("\n")
    found, open_at = [], None
    for i, line in enumerate(lines):
        m = BEGIN.match(line)
        if m:
            if open_at is not None:
                raise MarkerError(f"{path}:{i + 1}: BEGIN SOLUTION inside the block opened at line {open_at[0] + 1}")
            open_at = (i, m.group("qid"), m.group("indent"))
        elif END.match(line):
            if open_at is None:
                raise MarkerError(f"{path}:{i + 1}: END SOLUTION without a BEGIN SOLUTION")
            found.append((open_at[0], i, open_at[1], open_at[2]))
            open_at = None
        elif line.strip().startswith(("# BEGIN SOLUTION", "# END SOLUTION")):
            raise MarkerError(f"{path}:{i + 1}: malformed marker {line.strip()!r}: "
                              f"use '# BEGIN SOLUTION <question>' and '# END SOLUTION' on lines of their own")
    if open_at is not None:
        raise MarkerError(f"{path}:{open_at[0] + 1}: BEGIN SOLUTION {open_at[1]} is never closed")
    funcs = _functions(ast.parse(text, path))
    out = []
    for begin, end, qid, indent in found:
        code = [k + 1 for k in range(begin + 1, end) if lines[k].strip() and not lines[k].strip().startswith("#")]
        if not code:
            raise MarkerError(f"{path}:{begin + 1}: the SOLUTION block of {qid} has no code")
        # (a comment is no part of the function's span, so the END marker may follow its last line)
        inside = [f for f in funcs if f[1] < code[0] and code[-1] <= f[2]]
        if not inside:
            raise MarkerError(f"{path}:{begin + 1}: the SOLUTION block of {qid} must lie inside a function body")
        name = max(inside, key=lambda f: f[1])[0]   # the innermost one
        if end == begin + 1:
            raise MarkerError(f"{path}:{begin + 1}: the SOLUTION block of {qid} is empty")
        out.append(Block(qid, begin, end, indent, name))
    return out


def _stub(block: Block, hint: str) -> list[str]:
    ind = block.indent
    comment = textwrap.wrap(hint, 110, initial_indent=f"{ind}# TODO({block.qid}): ",
                            subsequent_indent=f"{ind}#     ", break_on_hyphens=False)
    return comment + [f"{ind}# ---- START OF YOUR CODE ({block.qid}): only the lines between START and END are graded",
                      f"{ind}raise todo({block.qid!r}, {block.function!r})",
                      f"{ind}# ---- END OF YOUR CODE ({block.qid})"]


@dataclass(frozen=True)
class Region:
    """Where one answer sits: the lines strictly between ``begin`` and ``end`` (0-based marker lines)."""
    qid: str
    function: str      # qualified name of the enclosing function
    index: int         # 0 for the function's first region of this question, 1 for its second, ...
    begin: int
    end: int
    indent: str        # the markers' indentation


@dataclass(frozen=True)
class Answer:
    qid: str
    function: str      # qualified name of the enclosing function
    index: int         # 0 for the function's first block of this question, 1 for its second, ...
    lines: list        # the answer's lines, dedented


def regions(text: str, path: str = "<source>") -> list[Region]:
    """The answers' places in a module's source, in file order: its ``BEGIN SOLUTION`` blocks (the instructor's
    edition) or its ``START OF YOUR CODE`` / ``END OF YOUR CODE`` pairs (the student's), each with its enclosing
    function and its index among that question's regions there. A source that does not parse raises SyntaxError;
    unpaired START/END lines raise MarkerError; a region outside every function is left out."""
    if has_blocks(text):
        spans = [(b.begin, b.end, b.qid, b.indent, b.function) for b in blocks(text, path)]
    else:
        funcs = _functions(ast.parse(text, path))
        spans, open_at = [], None
        for i, line in enumerate(text.split("\n")):
            m, e = START.match(line), STOP.match(line)
            if m:
                if open_at is not None:
                    raise MarkerError(f"{path}:{i + 1}: START OF YOUR CODE inside the region opened at line "
                                      f"{open_at[0] + 1}: put back its END line")
                open_at = (i, m.group("qid"), m.group("indent"))
            elif e:
                if open_at is None or open_at[1] != e.group("qid"):
                    raise MarkerError(f"{path}:{i + 1}: END OF YOUR CODE ({e.group('qid')}) without its START line")
                inside = [f for f in funcs if f[1] <= open_at[0] + 1 and i + 1 <= f[2] + 1]
                if inside:
                    spans.append((open_at[0], i, open_at[1], open_at[2], max(inside, key=lambda f: f[1])[0]))
                open_at = None
        if open_at is not None:
            raise MarkerError(f"{path}:{open_at[0] + 1}: START OF YOUR CODE ({open_at[1]}) has no END line")
    out, counts = [], {}
    for begin, end, qid, indent, function in spans:
        k = counts.get((qid, function), 0)
        counts[(qid, function)] = k + 1
        out.append(Region(qid, function, k, begin, end, indent))
    return out


def answers(text: str, path: str = "<source>") -> dict[tuple[str, str, int], Answer]:
    """The answers in a module's source (:func:`regions`), dedented, by (question, function, index)."""
    lines = text.split("\n")
    return {(r.qid, r.function, r.index): Answer(r.qid, r.function, r.index,
                                                 textwrap.dedent("\n".join(lines[r.begin + 1:r.end])).split("\n"))
            for r in regions(text, path)}


def _put(lines: list[str], region: Region, body: list[str]) -> None:
    """Replace ``region``'s lines in ``lines`` by ``body`` (dedented lines), at the region's indentation."""
    lines[region.begin + 1:region.end] = [(region.indent + ln) if ln.strip() else "" for ln in body]


def fill(student: str, qid: str, lines_by_function: dict[str, list[list[str]]], path: str = "<source>") -> str:
    """``student`` (a module of the student edition) with question ``qid``'s regions replaced:
    ``lines_by_function[function][k]`` (dedented lines) goes between the k-th START/END pair of ``qid`` in that
    function. What a student does by hand; the assignment's tests use it to write answers."""
    lines = student.split("\n")
    for r in reversed(regions(student, path)):
        if r.qid == qid and r.index < len(lines_by_function.get(r.function, ())):
            _put(lines, r, lines_by_function[r.function][r.index])
    return "\n".join(lines)


def splice(reference: str, submission: str, qid: str, path: str = "<source>") -> str:
    """``reference`` (the instructor's module) with the answers of question ``qid`` taken from ``submission``
    (a student's module or the instructor's): nothing else of the submission is used. A missing answer raises
    MarkerError saying which; a submission that does not parse raises SyntaxError."""
    theirs = answers(submission, path)
    lines = reference.split("\n")
    for r in reversed(regions(reference, path)):
        if r.qid != qid:
            continue
        a = theirs.get((qid, r.function, r.index))
        if a is None:
            raise MarkerError(f"{path}: no answer of {qid} in {r.function} (keep the START OF YOUR CODE and END OF "
                              f"YOUR CODE lines around it)")
        _put(lines, r, a.lines)
    out = _with_todo_import(lines)   # an untouched stub raises todo(...)
    compile(out, path, "exec")
    return out


def _with_todo_import(lines: list[str]) -> str:
    """The module of ``lines`` with :data:`TODO_IMPORT` before its first import (after docstring and
    ``from __future__``)."""
    at = _import_line_index("\n".join(lines))
    lines = list(lines)
    lines.insert(at if at is not None else len(lines), TODO_IMPORT)
    return "\n".join(lines)


def _import_line_index(text: str) -> int | None:
    """0-based line before which the ``todo`` import goes: the first import after the docstring and
    ``from __future__`` lines (or the first statement after them)."""
    tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant) \
                and isinstance(node.value.value, str) and node is tree.body[0]:
            continue  # the docstring
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        return node.lineno - 1 - len(getattr(node, "decorator_list", []) or [])
    return None


def strip_hidden(text: str, path: str = "<source>") -> str:
    """``text`` without its HIDDEN blocks (markers included)."""
    out, inside = [], False
    for i, line in enumerate(text.split("\n")):
        if BEGIN_HIDDEN.match(line):
            if inside:
                raise MarkerError(f"{path}:{i + 1}: nested BEGIN HIDDEN")
            inside = True
        elif END_HIDDEN.match(line):
            if not inside:
                raise MarkerError(f"{path}:{i + 1}: END HIDDEN without BEGIN HIDDEN")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{path}: BEGIN HIDDEN is never closed")
    return "\n".join(out)


def student_source(text: str, path: str, hints: dict[tuple[str, str], str]) -> str:
    """The student version of a module: every SOLUTION block replaced by its stub, plus the ``todo`` import.

    ``hints[(question, function)]`` is the formula shown above the stub. A module without blocks comes back
    unchanged."""
    if not has_blocks(text):
        return text
    found = blocks(text, path)
    lines = text.split("\n")
    for b in sorted(found, key=lambda b: b.begin, reverse=True):
        key = (b.qid, b.function)
        if key not in hints:
            raise MarkerError(f"{path}:{b.begin + 1}: question {b.qid!r} has no part {path}::{b.function} in "
                              f"cs180utils/machinery/assignment/questions.py")
        lines[b.begin:b.end + 1] = _stub(b, hints[key])
    out = _with_todo_import(lines)
    compile(out, path, "exec")   # a stub that does not parse is a bug of the build, never the student's
    return out
