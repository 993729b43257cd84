"""No import cycle inside cs180utils: module-level and function-level imports alike.

The graph is read from the source (ast), so an import hidden inside a function counts too.  An edge goes from a
module to each cs180utils module it names: ``import a.b``, ``from a import b`` (to ``a.b`` when that is a
module, else to ``a``), relative imports resolved.  A package's ``__init__`` re-exporting its submodules is the
usual layering and is not a cycle: importing ``a.b`` is an edge to ``a.b`` only, not to ``a``.
"""
from __future__ import annotations

import ast
from pathlib import Path

from cs180utils.machinery import config

# Cycles that exist today and that their owners have yet to break, each as a sorted tuple of its modules.
# Keep this empty: a new entry needs a reason next to it.
KNOWN_CYCLES: set[tuple[str, ...]] = set()


def import_graph(root: Path, package: str = "cs180utils") -> dict[str, set[str]]:
    """``{module: {modules of the package it imports}}`` for every ``.py`` under ``root / package``."""
    files = {}
    for f in sorted((root / package).rglob("*.py")):
        parts = list(f.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        files[".".join(parts[:-1] if is_package else parts)] = (f, is_package)
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, (f, is_package) in files.items():
        here = module.split(".") if is_package else module.split(".")[:-1]   # the package it lives in
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = here[: len(here) - (node.level - 1)]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            graph[module].update(t for t in targets if t in files and t != module)
    return graph


def cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components of more than one module (each a sorted tuple): the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: set[tuple[str, ...]] = set()

    def visit(v: str) -> None:   # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(tuple(sorted(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cs180utils_has_no_import_cycle():
    graph = import_graph(config.REPO_ROOT)
    assert "cs180utils.machinery.data.lookup" in graph and "cs180utils.machinery.data.download" in graph["cs180utils.machinery.data.lookup"]
    found = cycles(graph)
    new = found - KNOWN_CYCLES
    assert not new, "import cycles in cs180utils (move the shared part into a module both can import):\n" + \
        "\n".join(" <-> ".join(c) + "\n    " + "; ".join(f"{m} imports {sorted(graph[m] & set(c))}" for m in c)
                  for c in sorted(new))
    assert not KNOWN_CYCLES - found, f"these cycles are gone, remove them from KNOWN_CYCLES: {KNOWN_CYCLES - found}"


def test_the_detector_sees_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from pkg.a import f\n")            # re-export: not a cycle by itself
    (pkg / "a.py").write_text("from pkg import b\n\ndef f():\n    pass\n")
    (pkg / "b.py").write_text("def g():\n    from pkg.sub import c  # noqa: PLC0415\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("from .. import d\n")
    (pkg / "d.py").write_text("import os\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.sub.c"}, "pkg.sub": set(),
                     "pkg.sub.c": {"pkg.d"}, "pkg.d": set()}
    assert cycles(graph) == set()
    (pkg / "d.py").write_text("def h():\n    import pkg.a  # noqa: PLC0415\n")   # hidden in a function
    assert cycles(import_graph(tmp_path, "pkg")) == {("pkg.a", "pkg.b", "pkg.d", "pkg.sub.c")}


# ---- the course library and the machinery ----------------------------------------------------------------------
# The course library (cs180utils/ outside machinery/: the maths, models, losses, steps and readers of the course)
# imports these and the standard library only; never the machinery (training loop, profiles, CLI, downloads...).
COURSE_MAY_IMPORT = {"torch", "torchvision", "numpy", "PIL", "cv2"}


def third_party_imports(path: Path) -> set[str]:
    """The top-level names of every module ``path`` imports outside the standard library and cs180utils."""
    import sys  # noqa: PLC0415

    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add((node.module or "").split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("cs180utils", "__future__")}


def test_the_course_library_never_imports_the_machinery():
    graph = import_graph(config.REPO_ROOT)
    course = {m for m in graph if m != "cs180utils.__main__" and not m.startswith("cs180utils.machinery")}
    assert {"cs180utils.nerf.rays", "cs180utils.keypoints.heatmaps", "cs180utils.readers"} <= course
    wrong = {m: sorted(t for t in graph[m] if t.startswith("cs180utils.machinery")) for m in sorted(course)}
    wrong = {m: t for m, t in wrong.items() if t}
    assert not wrong, ("course modules importing the machinery (pass what they need as an argument, or move the "
                       f"code into cs180utils/machinery): {wrong}")
    root = config.REPO_ROOT / "cs180utils"
    for f in sorted(root.rglob("*.py")):
        if "machinery" in f.relative_to(root).parts:
            continue
        extra = third_party_imports(f) - COURSE_MAY_IMPORT
        assert not extra, f"{f.relative_to(config.REPO_ROOT)} imports {sorted(extra)}: the course library imports " \
                          f"only {sorted(COURSE_MAY_IMPORT)} (plotting, downloads, notebooks: cs180utils/machinery)"


def test_the_direction_check_sees_a_course_module_that_imports_the_machinery(tmp_path):
    pkg = tmp_path / "cs180utils"
    (pkg / "machinery").mkdir(parents=True)
    for f in ("__init__.py", "machinery/__init__.py", "machinery/loop.py"):
        (pkg / f).write_text("")
    (pkg / "maths.py").write_text("def f():\n    from cs180utils.machinery import loop  # noqa: PLC0415\n")
    (pkg / "plots.py").write_text("import matplotlib.pyplot as plt\n")
    graph = import_graph(tmp_path)
    assert graph["cs180utils.maths"] == {"cs180utils.machinery.loop"}
    assert third_party_imports(pkg / "plots.py") == {"matplotlib"}
