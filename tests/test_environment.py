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
