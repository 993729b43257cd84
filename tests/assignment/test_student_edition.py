"""The student edition is what a course publishes: it names its own repository, never the solved one, and it
computes no question's answer outside the stubs.

- Its notebooks' setup cells and Colab badges, README's links and ``colab.py`` name the student repository
  (``colab.STUDENT_REPO_URL``, or the build's ``--repo-url``); the instructor's ``colab.REPO_URL`` (and its
  ``owner/name``) is in no file.
- No answer outside the stubs: every ``.py`` file and notebook code cell of the built edition is searched for
  each question's distinctive formulas (:data:`PATTERNS`, on the syntax tree); a place that computes what a
  question asks must call that question's function instead. The few places that legitimately match a pattern
  (a different quantity of the same shape) are listed in :data:`ALLOWED`, each with its file, function and why.
  ``test_the_scan_catches_each_known_leak`` plants each leak this scan was written for and shows it is caught.

``python tests/assignment/test_student_edition.py DIR`` scans an edition already built in DIR and prints what
it finds (e.g. one built from an older commit).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cs180utils.machinery import colab, config
from cs180utils.machinery.assignment.build import build

ROOT = config.REPO_ROOT
CUSTOM = "https://github.com/my-course/cs180-student-2026"


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    return build(ROOT, tmp_path_factory.mktemp("student") / "student")


def _notebooks(root: Path) -> list[Path]:
    found = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert len(found) == len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))) > 0
    return found


# ---- the student repository's address ------------------------------------------------------------------------

def _instructor_mentions(root: Path) -> list[str]:
    """Files under ``root`` (any kind, binary too) that name the instructor's repository."""
    needles = [colab.REPO_URL.encode(), colab.github_name().encode()]
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and any(n in p.read_bytes() for n in needles))


def _assert_names_only(root: Path, repo_url: str) -> None:
    assert _instructor_mentions(root) == [], f"the student edition names the solved repository {colab.REPO_URL}"
    assert colab.disagreements(root / "notebooks", repo_url) == []    # every setup cell and Colab badge
    for nb in _notebooks(root):
        cells = json.loads(nb.read_text())["cells"]
        first = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
        assert f'REPO_URL = "{repo_url}"' in first, nb.name
        assert colab.colab_url(nb.name, repo_url) in "".join(cells[0]["source"]), nb.name
    assert colab.readme_disagreements(root / "README.md", root / "notebooks", repo_url) == []
    assert f"`{colab.github_name(repo_url)}`" in (root / "README.md").read_text()   # Colab's GitHub tab
    source = (root / "cs180utils/machinery/colab.py").read_text()
    assert f'\nREPO_URL = "{repo_url}"\n' in source and f'\nSTUDENT_REPO_URL = "{repo_url}"\n' in source


def test_the_student_edition_names_the_student_repository_only(edition):
    assert colab.STUDENT_REPO_URL != colab.REPO_URL and colab.github_name(colab.STUDENT_REPO_URL) != colab.github_name()
    _assert_names_only(edition, colab.STUDENT_REPO_URL)


def test_a_custom_repo_url_ends_up_in_the_edition(tmp_path):
    out = tmp_path / "student"
    done = subprocess.run([sys.executable, "-m", "cs180utils.machinery.assignment", "student", "--out", str(out),
                           "--repo-url", CUSTOM], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["repo_url"] == CUSTOM
    _assert_names_only(out, CUSTOM)
    assert colab.github_name(colab.STUDENT_REPO_URL) not in (out / "README.md").read_text()


def test_the_edition_s_own_colab_module_agrees_with_its_notebooks(edition):
    """Imported from the edition, colab.py's checks (what tests/test_colab.py runs there) find nothing to fix."""
    code = ("import sys; from pathlib import Path; from cs180utils.machinery import colab as c; r = Path.cwd(); "
            "sys.exit(bool(c.disagreements(r / 'notebooks') or c.readme_disagreements(r / 'README.md', "
            "r / 'notebooks')) or c.REPO_URL != c.STUDENT_REPO_URL)")
    done = subprocess.run([sys.executable, "-c", code], cwd=edition, capture_output=True, text=True,
                          env={"PYTHONPATH": str(edition), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr


# ---- no answer outside the stubs ------------------------------------------------------------------------------

import ast  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Callable  # noqa: E402


def _name(node: ast.AST) -> str:
    """The last name of ``torch.linalg.inv`` / ``np.exp`` / ``x.sum`` / ``w[..., 0]``: ``inv``, ``exp``, ``sum``, ``w``."""
    while isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _calls(node: ast.AST, *names: str) -> bool:
    return any(isinstance(n, ast.Call) and _name(n.func) in names for n in ast.walk(node))


def _is_const(node: ast.AST, *values) -> bool:
    return isinstance(node, ast.Constant) and not isinstance(node.value, bool) and node.value in values


def _computes(node: ast.AST) -> bool:
    """Whether the expression involves a variable (``1 - math.exp(-2.0 * 0.6)`` is a hand value, not code)."""
    return any(isinstance(n, ast.Name) and n.id not in ("math", "np", "numpy", "torch") for n in ast.walk(node))


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | \
           {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


def _sum_of_product(node: ast.AST) -> ast.BinOp | None:
    """``(a * b).sum(...)`` / ``torch.sum(a * b)`` -> the product."""
    if isinstance(node, ast.Call) and _name(node.func) == "sum":
        inner = node.func.value if isinstance(node.func, ast.Attribute) and node.args == [] or (
            isinstance(node.func, ast.Attribute) and not (isinstance(node.func.value, ast.Name)
                                                          and node.func.value.id in ("torch", "np"))) \
            else (node.args[0] if node.args else None)
        if isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Mult):
            return inner
    return None


def _weights(node: ast.AST) -> bool:
    return any(n in ("w", "weights") or n.startswith("weight") for n in [_name(node)])


def _pixel_centre(node: ast.AST) -> bool:
    """``arange(W) + 0.5``, ``idx % W + 0.5``, ``floor(k) + 0.5``, ``meshgrid(...) + 0.5``: an index's cell centre."""
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)):
        return False
    for half, other in ((node.right, node.left), (node.left, node.right)):
        if _is_const(half, 0.5) and (
                _calls(other, "arange", "meshgrid", "floor", "argmax", "div", "nonzero", "where", "indices")
                or any(isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Mod, ast.FloorDiv)) for n in ast.walk(other))
                or any(isinstance(n, ast.Name) and n.id in ("i", "j", "idx", "ii", "jj", "rows", "cols", "row", "col")
                       for n in ast.walk(other))):
            return True
    return False


def _sub3(node: ast.AST, last) -> bool:
    """``c2w[..., :3, :3]`` (last="slice") or ``c2w[..., :3, 3]`` (last=3)."""
    if not (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Tuple) and len(node.slice.elts) >= 2):
        return False
    a, b = node.slice.elts[-2:]
    row = isinstance(a, ast.Slice) and a.lower is None and _is_const(a.upper, 3)
    if last == 3:
        return row and _is_const(b, 3)
    return row and isinstance(b, ast.Slice) and b.lower is None and _is_const(b.upper, 3)


@dataclass(frozen=True)
class Pattern:
    id: str               # "<question>/<what>"
    what: str             # the formula, for messages
    test: Callable[[ast.AST], bool]


PATTERNS: tuple[Pattern, ...] = (
    Pattern("volrend/transmittance", "exp(-cumsum(sigma delta)): the transmittance T_i",
            lambda n: isinstance(n, ast.Call) and _name(n.func) == "exp" and _calls(n, "cumsum")),
    Pattern("volrend/cumprod", "cumprod(1 - alpha): the transmittance T_i",
            lambda n: isinstance(n, ast.Call) and _name(n.func) == "cumprod"
            and any(isinstance(b, ast.BinOp) and isinstance(b.op, ast.Sub) and _is_const(b.left, 1, 1.0)
                    for b in ast.walk(n))),
    Pattern("volrend/alpha", "1 - exp(-sigma delta): a sample's opacity alpha_i",
            lambda n: isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub) and _is_const(n.left, 1, 1.0)
            and isinstance(n.right, ast.Call) and _name(n.right.func) == "exp" and _computes(n.right)),
    Pattern("volrend/composite", "sum_i w_i c_i (or w_i t_i: depth): a weighted sum over the samples",
            lambda n: (p := _sum_of_product(n)) is not None and (_weights(p.left) or _weights(p.right))),
    Pattern("gaussian/exp", "exp(-(x - k)^2 / (2 sigma^2)): a Gaussian heatmap",
            lambda n: isinstance(n, ast.Call) and _name(n.func) in ("exp", "exp_") and _computes(n)
            and any(isinstance(p, ast.BinOp) and isinstance(p.op, ast.Pow) and _is_const(p.right, 2)
                    and any("sigma" in x for x in _names(p)) for p in ast.walk(n))),
    Pattern("gaussian/scale", "-0.5 / sigma^2: the Gaussian's exponent scale",
            lambda n: isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div) and isinstance(n.right, ast.BinOp)
            and isinstance(n.right.op, ast.Pow) and _is_const(n.right.right, 2)
            and any("sigma" in x for x in _names(n.right))),
    Pattern("pe/frequencies", "sin(2^k pi x) / cos(2^k pi x): the positional encoding",
            lambda n: isinstance(n, ast.Call) and _name(n.func) in ("sin", "cos") and _computes(n)
            and (any(isinstance(p, ast.BinOp) and isinstance(p.op, (ast.Pow, ast.LShift)) and _is_const(p.left, 2, 1)
                     for p in ast.walk(n)) or any("freq" in x or "band" in x for x in _names(n)))),
    Pattern("pixel_to_camera/inverse_K", "K^-1 [u, v, 1]: inverting the intrinsics",
            lambda n: isinstance(n, ast.Call) and _name(n.func) in ("inv", "inverse", "pinv", "solve")
            and any(_name(a) in ("K", "Ks", "intrinsics") for a in [*n.args, getattr(n.func, "value", None)] if a)),
    Pattern("camera_to_world/transform", "R x + t with R = c2w[..., :3, :3], t = c2w[..., :3, 3]",
            lambda n: isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add)
            and any(_sub3(s, 3) for s in ast.walk(n)) and any(_sub3(s, "slice") for s in ast.walk(n))
            and (any(isinstance(b, ast.BinOp) and isinstance(b.op, ast.MatMult) for b in ast.walk(n))
                 or _calls(n, "matmul", "einsum", "bmm"))),
    Pattern("sampling/stratified", "near + (far - near) i / S: samples along a ray",
            lambda n: isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add)
            and any("near" in x for x in _names(n.left))
            and any(isinstance(b, ast.BinOp) and isinstance(b.op, ast.Sub) and "far" in " ".join(_names(b.left))
                    and "near" in " ".join(_names(b.right)) for b in ast.walk(n.right))),
    Pattern("pixel_centres/half", "index + 0.5: a pixel's (cell's) centre",
            _pixel_centre),
    Pattern("argmax/flat_index", "idx % W: the column of a flat index (argmax read-out)",
            lambda n: isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mod) and _name(n.right) in ("W", "w", "width")),
    Pattern("soft_argmax/weighted_mean", "sum(p x) / sum(p): a weighted average of coordinates",
            lambda n: isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div)
            and (p := _sum_of_product(n.left)) is not None and isinstance(n.right, ast.Call)
            and _name(n.right.func) == "sum"
            and ast.dump(getattr(n.right.func, "value", n.right.args[0] if n.right.args else n.right))
            in (ast.dump(p.left), ast.dump(p.right))),
)

# (file, pattern, function) -> (how many matches, why this place computes something else or is the scaffolding the
# hint names). One match more than counted there is a leak. A notebook's "function" is <module> for its cells' top level.
ALLOWED: dict[tuple[str, str, str], tuple[int, str]] = {
    ("cs180utils/grid_encoding.py", "volrend/composite", "GridLevel.forward"):
        (1, "trilinear interpolation: the 8 corners' features summed with their interpolation weights"),
    ("cs180utils/keypoints/heatmaps.py", "pixel_centres/half", "factored_targets"):
        (2, "scaffolding the hint of gaussian and binary names ('over the cell centres ys, xs (index + 0.5)')"),
    ("cs180utils/keypoints/heatmaps.py", "pixel_centres/half", "soft_argmax"):
        (2, "scaffolding the hint of soft_argmax names ('its centre at (j + 0.5, i + 0.5): xs, ys')"),
    ("cs180utils/nerf/hull.py", "pixel_centres/half", "cell_centers"):
        (1, "the centres of the visual hull's voxels in the scene box, not pixels"),
    ("cs180utils/nerf/occupancy.py", "pixel_centres/half", "OccupancyGrid.ray_bounds"):
        (1, "probe points at the middle of equal steps along each ray, to find its occupied span"),
    ("cs180utils/nerf/samplers.py", "pixel_centres/half", "sample_pdf"):
        (1, "hierarchical sampling without jitter: the inverse CDF at the quantiles (i + 0.5) / n"),
    ("cs180utils/nerf/scene.py", "pixel_centres/half", "sphere_cameras"):
        (1, "a Fibonacci sphere of camera positions: heights at (i + 0.5) / n"),
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    function: str
    pattern: str
    code: str

    def __str__(self):
        return f"{self.path}:{self.line} ({self.function}): {self.pattern}: {self.code}"


def _qualnames(tree: ast.AST) -> list[tuple[int, int, str]]:
    out = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    out.append((child.lineno, child.end_lineno, name))
                visit(child, name + ".")
            else:
                visit(child, prefix)
    visit(tree, "")
    return out


def scan_source(text: str, path: str) -> list[Finding]:
    """Every place of one module (or notebook cell) that matches a pattern."""
    tree = ast.parse(text, path)
    funcs = _qualnames(tree)
    lines = text.split("\n")
    found = []
    for node in ast.walk(tree):
        for pat in PATTERNS:
            if hasattr(node, "lineno") and pat.test(node):
                inside = [f for f in funcs if f[0] <= node.lineno <= f[1]]
                func = max(inside, key=lambda f: f[0])[2] if inside else "<module>"
                found.append(Finding(path, node.lineno, func, pat.id, lines[node.lineno - 1].strip()))
    return sorted(set(found), key=lambda f: (f.path, f.line, f.pattern))


def _cells(nb: Path) -> list[str]:
    """A notebook's code cells, IPython magics and shell lines blanked (they are no Python)."""
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    return ["\n".join("" if line.lstrip().startswith(("%", "!")) else line
                      for line in "".join(c["source"]).split("\n"))
            for c in cells if c["cell_type"] == "code"]


def scan(root: Path) -> list[Finding]:
    """Every match of :data:`PATTERNS` in the ``.py`` files and notebook code cells under ``root``."""
    root = Path(root)
    found = []
    for p in sorted(root.rglob("*.py")):
        found += scan_source(p.read_text(encoding="utf-8"), p.relative_to(root).as_posix())
    for nb in sorted(root.rglob("*.ipynb")):
        rel = nb.relative_to(root).as_posix()
        if ".ipynb_checkpoints" in rel:
            continue
        for k, cell in enumerate(_cells(nb)):
            found += [Finding(f.path, f.line, f"cell {k}" if f.function == "<module>" else f"cell {k}: {f.function}",
                              f.pattern, f.code) for f in scan_source(cell, rel)]
    return found


def _key(f: Finding) -> tuple[str, str, str]:
    return f.path, f.pattern, f.function.split(": ", 1)[-1] if f.function.startswith("cell ") else f.function


def excuse(found: list[Finding]) -> list[Finding]:
    """The matches :data:`ALLOWED` does not excuse: all of a place's when it has more than counted there."""
    by_key: dict[tuple[str, str, str], list[Finding]] = {}
    for f in found:
        by_key.setdefault(_key(f), []).append(f)
    return [f for key, fs in by_key.items() if len(fs) > ALLOWED.get(key, (0, ""))[0] for f in fs]


def leaks(root: Path) -> list[Finding]:
    """The matches in the tree at ``root`` that :data:`ALLOWED` does not excuse."""
    return excuse(scan(root))


if __name__ == "__main__":
    _all = scan(Path(sys.argv[1]))
    _bad = set(excuse(_all))
    for f in _all:
        print(("LEAK     " if f in _bad else "allowed  ") + str(f))
    print(f"{len(_bad)} leaks, {len(_all) - len(_bad)} allowed matches")


def test_no_answer_outside_the_stubs(edition):
    found = leaks(edition)
    assert found == [], ("the student edition computes a question's answer outside its stubs; call the question's "
                         "function there (or, if it computes something else, add it to ALLOWED with why):\n  "
                         + "\n  ".join(map(str, found)))


def test_every_allowed_place_still_matches(edition):
    """An entry of ALLOWED that matches nothing any more is stale: drop it, so that it excuses nothing later."""
    counts: dict[tuple[str, str, str], int] = {}
    for f in scan(edition):
        counts[_key(f)] = counts.get(_key(f), 0) + 1
    assert {key: n for key, (n, _) in ALLOWED.items() if counts.get(key) != n} == {}   # stale or loose counts
    assert all(why.strip() for _, why in ALLOWED.values())


# The leaks this scan was written for, as the student edition of 5321310 had them (file, function, code), and
# a few more ways to write the same answers: each must be caught.
PLANTED: tuple[tuple[str, str, str], ...] = (
    ("cs180utils/nerf/fast.py", "volrend/transmittance",
     "def sample_mask(tau):\n    T = torch.exp(-(torch.cumsum(tau, dim=-1) - tau))\n    return T\n"),
    ("cs180utils/nerf/fast.py", "volrend/alpha",
     "def forward(sigma_m, step_size):\n    alpha = 1.0 - torch.exp(-sigma_m.detach() * step_size)\n    return alpha\n"),
    ("cs180utils/nerf/occupancy.py", "volrend/alpha",
     "def update(flat, cells, step_size):\n    return 1.0 - torch.exp(-flat[cells] * step_size)\n"),
    ("cs180utils/nerf/other.py", "volrend/cumprod",
     "def t(alpha):\n    return torch.cumprod(1.0 - alpha + 1e-10, dim=-1)\n"),
    ("cs180utils/nerf/other.py", "volrend/composite",
     "def depth(weights, t):\n    return (weights * t).sum(dim=-1)\n"),
    ("cs180utils/keypoints/heatmaps.py", "gaussian/exp",
     "def gaussian_heatmaps_loop(pts, B, K, H, W, sigma, out):\n"
     "    for b in range(B):\n        for k in range(K):\n"
     "            xx, yy = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)\n            x, y = pts[b, k]\n"
     "            out[b, k] = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma ** 2))\n"),
    ("cs180utils/keypoints/heatmaps.py", "gaussian/scale",
     "def g(d, sigma):\n    c = -0.5 / sigma ** 2\n    return (d * d * c).exp()\n"),
    ("cs180utils/keypoints/heatmaps.py", "argmax/flat_index",
     "def soft_argmax(idx, W, p):\n"
     "    px, py = (idx % W).to(p.dtype) + 0.5, torch.div(idx, W, rounding_mode='floor').to(p.dtype) + 0.5\n"),
    ("cs180utils/keypoints/heatmaps.py", "pixel_centres/half",
     "def soft_argmax(idx, W, p):\n"
     "    px, py = (idx % W).to(p.dtype) + 0.5, torch.div(idx, W, rounding_mode='floor').to(p.dtype) + 0.5\n"),
    ("tests/keypoints/test_augment.py", "pixel_centres/half",
     "def _centroid(img):\n    w = (img[0] + 0.5).clamp(min=0)\n"
     "    ys, xs = torch.meshgrid(torch.arange(w.shape[0]) + 0.5, torch.arange(w.shape[1]) + 0.5, indexing='ij')\n"
     "    return torch.stack([(w * xs).sum(), (w * ys).sum()]) / w.sum()\n"),
    ("tests/keypoints/test_augment.py", "soft_argmax/weighted_mean",
     "def _centroid(p, xs):\n    return (p * xs).sum() / p.sum()\n"),
    ("tests/keypoints/test_synthetic.py", "pixel_centres/half",
     "def test(w, j0, r, x):\n    centres = np.arange(j0 - r, j0 + r + 1) + 0.5\n"
     "    assert abs((w.sum(0) * centres).sum() / w.sum() - x) < 0.25\n"),
    ("cs180utils/machinery/nerf/plots.py", "argmax/flat_index",
     "def camera_samples(flat, W, scene):\n    pixels = torch.stack((flat // W, flat % W), dim=-1)\n"
     "    uv = pixels.flip(-1).to(scene.c2ws.dtype) + 0.5\n"),
    ("tests/keypoints/test_experiment_imm.py", "pixel_centres/half",
     "def forward(x, w, h):\n    idx = x.flatten(1).argmax(1)\n    i, j = idx // w, idx % w\n"
     "    return torch.stack([(j + 0.5) / w, (i + 0.5) / h], -1)\n"),
    ("cs180utils/encodings.py", "pe/frequencies",
     "def pe(x, L):\n    return [torch.sin(2 ** k * math.pi * x) for k in range(L)]\n"),
    ("cs180utils/other.py", "pe/frequencies",
     "def pe(x, freqs):\n    return torch.cos(x[..., None] * freqs)\n"),
    ("cs180utils/nerf/rays.py", "pixel_to_camera/inverse_K",
     "def to_camera(K, uv1):\n    return (torch.linalg.inv(K) @ uv1[..., None])[..., 0]\n"),
    ("cs180utils/nerf/rays.py", "camera_to_world/transform",
     "def transform(c2w, x):\n    return (c2w[..., :3, :3] @ x[..., None])[..., 0] + c2w[..., :3, 3]\n"),
    ("cs180utils/nerf/samplers.py", "sampling/stratified",
     "def stratified_t(near, far, i, S):\n    return near + (far - near) * i / S\n"),
    ("notebooks/03_x.ipynb", "volrend/transmittance", None),
)


_EDITION_MATCHES: list[Finding] = []


def test_the_scan_catches_each_known_leak(tmp_path, edition):
    _EDITION_MATCHES[:] = scan(edition)
    for path, pattern, code in PLANTED:
        if path.endswith(".ipynb"):
            continue
        # planted beside what the edition has at that place (so an allowed place's count is exceeded)
        found = excuse(scan_source(code, path) + [f for f in _EDITION_MATCHES if f.path == path])
        assert any(f.pattern == pattern for f in found), (path, pattern, found)
    # in a tree: a planted .py file and a notebook cell (magics and shell lines are skipped, not errors)
    (tmp_path / "cs180utils/nerf").mkdir(parents=True)
    (tmp_path / "cs180utils/nerf/fast.py").write_text(PLANTED[0][2])
    (tmp_path / "notebooks").mkdir()
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": ["%matplotlib inline\n", "!ls\n", "T = torch.exp(-torch.cumsum(sigma * delta, -1))\n"]}
    (tmp_path / "notebooks/03_x.ipynb").write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4,
                                                               "nbformat_minor": 5}))
    assert {(f.path, f.pattern) for f in leaks(tmp_path)} == {("cs180utils/nerf/fast.py", "volrend/transmittance"),
                                                            ("notebooks/03_x.ipynb", "volrend/transmittance")}


def test_hand_values_and_other_quantities_are_not_leaks():
    assert scan_source("import math\nacc = 1.0 - math.exp(-2.0 * 0.6)\n", "tests/t.py") == []     # a hand value
    assert scan_source("def f(p):\n    return 0.5 * (1.0 + math.cos(math.pi * p))\n", "t.py") == []  # a schedule
    assert scan_source("def f(img):\n    return (img * 255.0 + 0.5).astype(np.uint8)\n", "t.py") == []  # rounding
