"""Fixtures of the data tests: an isolated lookup (private cache, no $CS180_DATA_DIR, no downloads) and
small valid files."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from cs180utils.machinery.data import download, lookup


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """A private cache folder (tmp_path/cache), no CS180_DATA_DIR, downloads forbidden, a fresh notice memory."""
    monkeypatch.setenv("CS180_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CS180_DATA_DIR", raising=False)
    monkeypatch.setenv("CS180_OFFLINE", "1")
    monkeypatch.setattr(lookup, "_NOTICED", set())
    monkeypatch.setattr(lookup, "_FAILED", set())

    def no_network(*args, **kwargs):
        raise AssertionError("a lookup tried to download")

    monkeypatch.setattr(download, "fetch", no_network)


def save_fox(folder: Path, colour=(200, 100, 50), name: str = "fox.jpg") -> Path:
    """An 8x6 JPEG of one colour at ``folder/name``."""
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    Image.new("RGB", (8, 6), colour).save(p)
    return p


@pytest.fixture
def put_fox():
    return save_fox
