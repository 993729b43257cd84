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
    (tmp_path / "env").mkdir()
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


def test_data_dir_env_that_does_not_exist_is_an_error(tmp_path, monkeypatch):
    """A typo in $CS180_DATA_DIR must not train on the cache's copy or a stand-in without a word (issue #34)."""
    monkeypatch.setenv("CS180_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match=rf"^CS180_DATA_DIR={tmp_path / 'nope'} does not exist: set "
                                                rf"CS180_DATA_DIR to the folder that holds the datasets, or unset it$"):
        data.search_dirs()
    monkeypatch.delenv("CS180_DATA_DIR")
    # a --data-dir that does not exist yet is not an error (data fetch --data-dir makes it)
    assert data.search_dirs(tmp_path / "arg") == [tmp_path / "arg", tmp_path / "cache"]
