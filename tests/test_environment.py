"""environment.yml (conda users) and requirements.txt (pip, make) must name the same packages and pins."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# packages only one side may list, with why
ONLY_IN_ENV: set[str] = set()  # none: make lab and the browser test use the pinned JupyterLab too


def _req(line: str) -> tuple[str, str | None]:
    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(?:==\s*([^\s#;]+))?\s*", line)
    assert m, f"cannot parse requirement {line!r}"
    return m.group(1).lower().replace("_", "-"), m.group(2)


def pip_requirements() -> dict[str, str | None]:
    lines = [ln.split("#")[0].strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    return dict(_req(ln) for ln in lines if ln)


def conda_pip_section() -> dict[str, str | None]:
    text = (ROOT / "environment.yml").read_text()
    # the entries indented under "- pip:" (the yaml is simple on purpose; no yaml dependency needed)
    block = text.split("- pip:", 1)[1]
    entries = re.findall(r"^\s{4,}-\s*(\S.*?)\s*$", block, flags=re.M)
    return dict(_req(e) for e in entries)


def test_requirements_are_pinned():
    reqs = pip_requirements()
    assert "torch" in reqs and "torchvision" in reqs
    unpinned = [n for n, v in reqs.items() if v is None]
    assert not unpinned, f"requirements.txt must pin every package with ==: {unpinned}"


def test_environment_yml_matches_requirements():
    reqs, env = pip_requirements(), conda_pip_section()
    assert set(env) - ONLY_IN_ENV == set(reqs), (
        f"only in environment.yml: {sorted(set(env) - ONLY_IN_ENV - set(reqs))}; "
        f"only in requirements.txt: {sorted(set(reqs) - set(env))}")
    mismatched = {n: (reqs[n], env[n]) for n in reqs if env[n] != reqs[n]}
    assert not mismatched, f"pins differ (requirements.txt, environment.yml): {mismatched}"


def test_environment_yml_pins_python():
    assert re.search(r"^\s*-\s*python=3\.1[0-9]", (ROOT / "environment.yml").read_text(), flags=re.M)


def declared_minimums() -> dict[str, tuple[int, ...]]:
    """pyproject.toml's runtime dependencies and extras as {name: minimum release}."""
    import tomllib  # noqa: PLC0415

    from cs180utils.machinery.colab import parse  # noqa: PLC0415

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return dict(parse(r) for r in reqs)


def test_pyproject_declares_minimums_that_the_lock_meets():
    """Every runtime dependency is declared with a minimum (`pip install .` gives a package that imports), and
    requirements.txt pins each at or above it (the lock is one of the environments the minimums allow)."""
    from cs180utils.machinery.colab import version_tuple  # noqa: PLC0415

    minimums, pins = declared_minimums(), pip_requirements()
    assert {"torch", "torchvision", "numpy", "matplotlib", "opencv-python-headless"} <= set(minimums)
    assert minimums["torchvision"] >= (0, 23), "tv_tensors.KeyPoints is new in torchvision 0.23"
    assert not [n for n, v in minimums.items() if not v], f"give every dependency a minimum: {minimums}"
    unpinned = sorted(set(minimums) - set(pins))
    assert not unpinned, f"declared in pyproject.toml but not pinned in requirements.txt: {unpinned}"
    below = {n: pins[n] for n in minimums if version_tuple(pins[n]) < minimums[n]}
    assert not below, f"requirements.txt pins below pyproject.toml's minimum: {below}"
