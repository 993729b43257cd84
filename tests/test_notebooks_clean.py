"""The committed notebooks: all present, in order, without outputs, with the standard setup and one parameters cell."""
import json
from pathlib import Path

import pytest

NB_DIR = Path(__file__).resolve().parent.parent / "notebooks"
EXPECTED = [f"{i:02d}" for i in range(1, 10)]  # 01..09 (a 10th, the fast NeRF, is welcome)


def _notebooks():
    return sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))


def test_all_nine_notebooks_exist_in_order():
    numbers = [p.name[:2] for p in _notebooks()]
    assert numbers[:9] == EXPECTED, f"notebooks found: {[p.name for p in _notebooks()]}"
    assert len(numbers) == len(set(numbers)), "two notebooks share a number"


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"])
             if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; run `make clean-outputs` before committing"


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_setup_and_one_parameters_cell(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and "import cs180utils" in "".join(code[0]["source"]), f"{path.name}: first code cell must be the setup"
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected one cell tagged 'parameters', found {len(tagged)}"
    src = "".join(tagged[0]["source"])
    assert "by_profile" in src or "experiment" in src, \
        f"{path.name}: parameters must be picked by profile (by_profile, or an experiment's presets)"
