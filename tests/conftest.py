"""Shared test fixtures. Real data lives in $CS180_DATA_DIR (CI: ../shared/data); tests that need it skip
with a reason when it is absent, except under CI where it must be there."""
import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    d = os.environ.get("CS180_DATA_DIR")
    if not d or not Path(d).is_dir():
        if os.environ.get("CI"):
            pytest.fail("CI=true but CS180_DATA_DIR is not set to the shared data folder")
        pytest.skip("real data not available: set CS180_DATA_DIR")
    return Path(d)
