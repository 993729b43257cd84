"""What a notebook's first cell needs outside a clone (Colab, a notebook downloaded alone): where the package
comes from, the dependencies the kernel lacks, and widgets that show up in Colab.

    REPO_URL                  # the one place the repository's address is written (see below)
    STUDENT_REPO_URL          # the student edition's address (make student writes it in place of REPO_URL)
    setup()                   # install only missing / too-old dependencies, then make widgets work on Colab
    missing(requirements())   # ["tqdm>=4.64", ...]: what setup() would install
    python -m cs180utils.machinery.colab   # after changing REPO_URL: rewrite every notebook's setup cell and Colab link,
                                           # and README's notebook table's links

Each notebook's first code cell, outside a clone, clones REPO_URL into the notebook's folder (its files are the
student's to edit, and ``check()`` reads them) and installs it with ``pip install --no-deps -e``; without git, it
installs ``git+REPO_URL`` (or ``$CS180_INSTALL_FROM``: a wheel, an sdist or a folder, used by the tests since CI
has no internet); then it calls :func:`setup`. Only dependencies that are missing or older than the minimum declared in
``pyproject.toml`` are installed, so what Colab ships (torch built for its GPU, torchvision, numpy, matplotlib,
ipywidgets 7) is kept. Standard library only: it runs before those dependencies are present.

Widgets on Colab: Colab's own widget manager renders ipywidgets 7 (what Colab ships); for ipywidgets 8 the
front end needs ``google.colab.output.enable_custom_widget_manager()`` (the CDN manager that speaks the 8.x
protocol), which :func:`setup` calls when ipywidgets >= 8 is installed. Elsewhere (JupyterLab, VS Code) nothing
is needed.
"""
from __future__ import annotations

import importlib
import importlib.metadata as metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

# The repository the notebooks install cs180utils from and Colab opens them from. A course's fork changes it
# here, then runs `python -m cs180utils.machinery.colab` to write it into every notebook's first code cell and "Open in
# Colab" link, and README's notebook table (tests/test_colab.py names each notebook that disagrees with this line).
REPO_URL = "https://github.com/cs180-workbook/cs180-workbook"
# The repository a course publishes the student edition in (stubs in place of the solutions): `make student` writes
# it in place of REPO_URL into the edition's notebooks, README and this file (`make student STUDENT_REPO=...` or
# `python -m cs180utils.machinery.assignment student --repo-url ...` for another), so that a student's Colab installs
# the package with stubs, never this repository's solved one.
STUDENT_REPO_URL = "https://github.com/cs180-workbook/cs180-student"
BRANCH = "main"                           # the branch the Colab links open
INSTALL_FROM_ENV = "CS180_INSTALL_FROM"   # a wheel / folder to install from instead of git+REPO_URL

# The first code cell of every notebook, verbatim. From a clone (notebooks/ beside cs180utils/) it only puts
# the clone on sys.path, as before; elsewhere it installs the package alone, then what the kernel lacks.
_SETUP_CELL = """\
# Setup: cs180utils from this clone, else from a clone made here (Colab; a notebook on its own)
REPO_URL = "{repo_url}"  # a course's fork: cs180utils/machinery/colab.py
import importlib.util, os, pathlib, shutil, subprocess, sys
if importlib.util.find_spec("cs180utils") is None:
    if (pathlib.Path.cwd().parent / "cs180utils").is_dir():  # a clone: notebooks/ beside cs180utils/
        sys.path.insert(0, str(pathlib.Path.cwd().parent))
    else:  # the package alone (--no-deps): what the kernel already has (torch, numpy, ...) stays
        source = os.environ.get("{install_from_env}")
        if source is None and shutil.which("git"):  # a clone here, its files yours to edit (Colab: Files pane)
            source = str(pathlib.Path.cwd() / REPO_URL.rstrip("/").split("/")[-1].removesuffix(".git"))
            if not (pathlib.Path(source) / "cs180utils").is_dir():
                subprocess.run(["git", "clone", "-q", "--depth", "1", REPO_URL, source], check=True)
            sys.path.insert(0, source)
        editable = ["-e"] if source and pathlib.Path(source).is_dir() else []
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *editable,
                        source or f"git+{{REPO_URL}}"], check=True)
        importlib.invalidate_caches()
import cs180utils.machinery.colab
cs180utils.machinery.colab.setup()  # only the dependencies this kernel lacks or has too old; widgets on Colab
from cs180utils.machinery import config
print(config.describe())"""


def setup_cell(repo_url: str) -> str:
    """The first code cell of a notebook that installs the package from ``repo_url``."""
    return _SETUP_CELL.format(repo_url=repo_url, install_from_env=INSTALL_FROM_ENV)


SETUP_CELL = setup_cell(REPO_URL)


# a requirement is satisfied by any of these distributions too (Colab ships opencv-python, not -headless)
ALTERNATIVES = {
    "opencv-python-headless": ("opencv-python", "opencv-contrib-python", "opencv-contrib-python-headless"),
}
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:>=\s*([0-9][0-9.]*))?\s*$")


def github_name(repo_url: str | None = None) -> str:
    """``owner/name`` of a GitHub address (default :data:`REPO_URL`): what Colab's GitHub tab asks for."""
    return (repo_url or REPO_URL).split("github.com/", 1)[1].removesuffix(".git").strip("/")


def colab_url(notebook: str, repo_url: str | None = None) -> str:
    """The address that opens ``notebooks/<notebook>`` of ``repo_url`` (default :data:`REPO_URL`) in Colab."""
    return f"https://colab.research.google.com/github/{github_name(repo_url)}/blob/{BRANCH}/notebooks/{notebook}"


def badge(notebook: str, repo_url: str | None = None) -> str:
    """The "Open in Colab" badge line of a notebook's title cell (markdown)."""
    return (f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({colab_url(notebook, repo_url)})")


def install_source() -> str:
    """What the first cell gives ``pip install --no-deps``: ``$CS180_INSTALL_FROM`` if set, else ``git+REPO_URL``."""
    return os.environ.get(INSTALL_FROM_ENV) or f"git+{REPO_URL}"


def on_colab() -> bool:
    """True inside a Google Colab kernel."""
    return "google.colab" in sys.modules or bool(os.environ.get("COLAB_RELEASE_TAG"))


def version_tuple(version: str) -> tuple[int, ...]:
    """The release numbers of a version string: ``"2.14.1+cpu"`` -> (2, 14, 1); ``"8.1.9"`` -> (8, 1, 9);
    ``"2.0rc1"`` -> (2, 0)."""
    out = []
    for part in version.split("+")[0].split("."):
        digits = re.match(r"\d+", part)
        if not digits:
            break
        out.append(int(digits.group()))
        if digits.group() != part:
            break
    return tuple(out)


def parse(requirement: str) -> tuple[str, tuple[int, ...]] | None:
    """``"torch>=2.8"`` -> ("torch", (2, 8)); ``"tqdm"`` -> ("tqdm", ()); None for an extra's requirement
    (``'pytest>=8; extra == "test"'``). Only ``name`` and ``name>=version`` are written in pyproject.toml."""
    spec, _, marker = requirement.partition(";")
    if "extra" in marker:
        return None
    m = _REQUIREMENT.match(spec)
    if m is None:
        raise ValueError(f"requirement {requirement!r}: write runtime dependencies as 'name' or 'name>=version' "
                         f"in pyproject.toml")
    return m.group(1).lower(), version_tuple(m.group(2) or "")


def requirements() -> list[str]:
    """The runtime requirements of the installed cs180utils (``[project] dependencies``); [] when it runs from
    a clone without being installed (the clone's environment is set up by ``make``)."""
    try:
        return [r for r in (metadata.requires("cs180utils") or []) if parse(r) is not None]
    except metadata.PackageNotFoundError:
        return []


def installed_version(name: str) -> str | None:
    """The installed version of distribution ``name`` (or one of its :data:`ALTERNATIVES`), else None."""
    for candidate in (name, *ALTERNATIVES.get(name, ())):
        try:
            return metadata.version(candidate)
        except metadata.PackageNotFoundError:
            continue
    return None


def missing(reqs: list[str], version_of=installed_version) -> list[str]:
    """The requirements in ``reqs`` that are not installed or older than their minimum (as given)."""
    out = []
    for r in reqs:
        parsed = parse(r)
        if parsed is None:
            continue
        name, minimum = parsed
        have = version_of(name)
        if have is None or version_tuple(have) < minimum:
            out.append(r.split(";")[0].strip())
    return out


def install_missing(quiet: bool = True) -> list[str]:
    """``pip install`` the requirements :func:`missing` names (nothing else is touched); returns them.

    If one of them was already imported in this kernel at an older version, says to restart the runtime."""
    todo = missing(requirements())
    if not todo:
        return []
    print("installing what this kernel lacks:", " ".join(todo), flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", *(["-q"] if quiet else []), *todo], check=True)
    importlib.invalidate_caches()
    stale = [r for r in todo if parse(r)[0].replace("-", "_") in sys.modules]
    if stale:
        print(f"{', '.join(stale)} were upgraded after being imported: restart the runtime "
              "(Colab: Runtime -> Restart session) and run this cell again.", file=sys.stderr)
    return todo


def enable_widgets() -> bool:
    """On Colab with ipywidgets >= 8, turn on the custom widget manager (Colab's own renders ipywidgets 7 only);
    True when it was turned on."""
    if not on_colab():
        return False
    version = installed_version("ipywidgets")
    if version is None or version_tuple(version) < (8,):
        return False
    from google.colab import output  # noqa: PLC0415  (only importable on Colab)

    output.enable_custom_widget_manager()
    return True


def setup() -> None:
    """The first cell's second half: missing dependencies, then widgets on Colab."""
    install_missing()
    enable_widgets()


# ---- keeping the notebooks in step with REPO_URL ------------------------------------------------------------

def first_code_cell(nb: dict) -> dict:
    """The first code cell of a notebook (as read by ``json``)."""
    return next(c for c in nb["cells"] if c["cell_type"] == "code")


def _cell(repo_url: str | None) -> str:
    return SETUP_CELL if repo_url is None else setup_cell(repo_url)


def disagreements(folder: Path, repo_url: str | None = None) -> list[str]:
    """The notebooks in ``folder`` whose first code cell is not :data:`SETUP_CELL` or whose title cell lacks
    :func:`badge`, each as ``"name: what"`` (for ``repo_url``: :func:`setup_cell` and badge of that address)."""
    out = []
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        if "".join(first_code_cell(nb)["source"]) != _cell(repo_url):
            out.append(f"{path.name}: first code cell differs from cs180utils.machinery.colab.SETUP_CELL")
        if badge(path.name, repo_url) not in "".join(nb["cells"][0]["source"]).splitlines():
            out.append(f"{path.name}: title cell lacks the line {badge(path.name, repo_url)}")
    return out


def write_notebooks(folder: Path, repo_url: str | None = None) -> list[str]:
    """Put :data:`SETUP_CELL` and :func:`badge` (those of ``repo_url`` when given) into every notebook of
    ``folder`` (the badge replaces an older one, else goes right under the title); returns the names changed."""
    changed = []
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        first_code_cell(nb)["source"] = _cell(repo_url).splitlines(keepends=True)
        title = nb["cells"][0]
        text_before = "".join(title["source"])
        lines = text_before.splitlines()
        old = [k for k, line in enumerate(lines) if "colab-badge.svg" in line]
        if old:   # an older badge (another URL): replaced where it is
            lines[old[0]] = badge(path.name, repo_url)
        else:     # under the "# NN ..." heading, with a blank line before it
            lines[1:1] = ["", badge(path.name, repo_url)]
        title["source"] = ("\n".join(lines) + ("\n" if text_before.endswith("\n") else "")).splitlines(keepends=True)
        new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path.name)
    return changed


# a row of README's notebook table: | 01 | `01_neural_field_2d` | [![Open in Colab](...)](...) | the idea |
_README_ROW = re.compile(r"^\| (?P<num>\d\d) \| `(?P<stem>[^`]+)` \| (?:\[!\[Open in Colab\][^|]*\) \| )?(?P<rest>.*)$")


def readme_disagreements(readme: Path, folder: Path, repo_url: str | None = None) -> list[str]:
    """The notebooks of ``folder`` whose row in ``readme``'s notebook table lacks :func:`badge` (the same link as
    the notebook's own; of ``repo_url`` when given), or that have no row, each as ``"name: what"``."""
    rows = {m["stem"]: line for line in Path(readme).read_text(encoding="utf-8").splitlines()
            if (m := _README_ROW.match(line))}
    out = []
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        row = rows.get(path.stem)
        if row is None:
            out.append(f"{path.name}: no row in {Path(readme).name}'s notebook table")
        elif f"| {badge(path.name, repo_url)} |" not in row:
            out.append(f"{path.name}: its row in {Path(readme).name} lacks {badge(path.name, repo_url)}")
    return out


def write_readme(readme: Path, repo_url: str | None = None) -> bool:
    """Put :func:`badge` (of ``repo_url`` when given) into each row of ``readme``'s notebook table (the column
    after the notebook's name, replacing an older badge); returns whether the file changed."""
    text = Path(readme).read_text(encoding="utf-8")
    lines = text.split("\n")
    for k, line in enumerate(lines):
        m = _README_ROW.match(line)
        if m:
            lines[k] = f"| {m['num']} | `{m['stem']}` | {badge(m['stem'] + '.ipynb', repo_url)} | {m['rest']}"
    new = "\n".join(lines)
    if repo_url is not None:   # Colab's GitHub tab, in the prose: `owner/name`
        new = new.replace(f"`{github_name()}`", f"`{github_name(repo_url)}`")
    if new != text:
        Path(readme).write_text(new, encoding="utf-8")
    return new != text


# the assignments of this module's two addresses, as a copy of it (the student edition's) has them rewritten
# (not the setup cell's template line, which has a comment after it)
_ADDRESS_LINE = re.compile(r'^(?P<name>REPO_URL|STUDENT_REPO_URL) = "[^"{]*"$', re.M)


def retarget(root: Path, repo_url: str) -> list[str]:
    """Point a copy of the workbook at ``root`` (the student edition) at ``repo_url``: its
    ``cs180utils/machinery/colab.py`` (REPO_URL, STUDENT_REPO_URL), every notebook's setup cell and Colab badge,
    README's notebook table and its GitHub name; returns the files changed, repository-relative."""
    root = Path(root)
    changed = [f"notebooks/{name}" for name in write_notebooks(root / "notebooks", repo_url)]
    if (root / "README.md").exists() and write_readme(root / "README.md", repo_url):
        changed.append("README.md")
    me = root / "cs180utils" / "machinery" / "colab.py"
    if me.exists():
        text = me.read_text(encoding="utf-8")
        new = _ADDRESS_LINE.sub(lambda m: f'{m["name"]} = "{repo_url}"', text)
        if new != text:
            me.write_text(new, encoding="utf-8")
            changed.append("cs180utils/machinery/colab.py")
    return changed


if __name__ == "__main__":
    here = Path(__file__).resolve().parents[2] / "notebooks"
    if not here.is_dir():
        sys.exit(f"no notebooks/ beside cs180utils/ ({here}): run this from a clone of the workbook")
    print("\n".join(write_notebooks(here)) or "every notebook already agrees with REPO_URL")
    if write_readme(here.parent / "README.md"):
        print("README.md: the notebook table's Colab links")
