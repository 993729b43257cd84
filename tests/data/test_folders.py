"""The folders searched: --data-dir, then $CS180_DATA_DIR (relative ones read from the repository root), then
the cache."""
from __future__ import annotations

import os

import pytest

from cs180utils.machinery import config, data

pytestmark = pytest.mark.usefixtures("isolated")


def test_search_dirs_order(tmp_path, monkeypatch):
    assert data.search_dirs() == [tmp_path / "cache"]                      # the cache only
    assert data.search_dirs() == [config.cache_dir()]
    monkeypatch.setenv("CS180_DATA_DIR", str(tmp_path / "env"))
    assert data.search_dirs() == [tmp_path / "env", tmp_path / "cache"]
    assert data.search_dirs(tmp_path / "arg") == [tmp_path / "arg", tmp_path / "env", tmp_path / "cache"]


def test_relative_data_dir_read_from_repo_root(monkeypatch, tmp_path):
    """CI sets CS180_DATA_DIR=../shared/data relative to the checkout; notebooks run one folder deeper."""
    target = tmp_path / "shared"
    target.mkdir()
    rel = os.path.relpath(target, config.REPO_ROOT)
    sub = tmp_path / "elsewhere"
    sub.mkdir()
    monkeypatch.chdir(sub)
    monkeypatch.setenv("CS180_DATA_DIR", rel)
    assert data.search_dirs()[0].resolve() == target.resolve()
