"""The registry: every entry complete and documented in data/README.md; unknown names listed; how to get one."""
from __future__ import annotations

import re

import pytest

from cs180utils.machinery import config, data
from cs180utils.machinery.data import registry

pytestmark = pytest.mark.usefixtures("isolated")


def test_registry_entries_are_complete_and_documented():
    readme = (config.REPO_ROOT / "data" / "README.md").read_text()
    for name, ds in data.REGISTRY.items():
        assert ds.name == name and ds.filenames and ds.description and ds.licence
        for url in (ds.url, *ds.mirrors):
            assert re.match(r"https?://[^/]+/.+", url), url
            assert url in readme, f"{name}: {url} is not in data/README.md"
        assert ds.filenames[0] in readme
        assert ds.archive in (None, "zip", "tar.gz")
        assert ds.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", ds.sha256)
        if ds.archive:   # an archive must say what it holds, so a wrong download is caught
            assert ds.expect or ds.expect_glob


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(KeyError, match="lego, imm, ibug300w, fox"):
        data.locate("mnist")
    with pytest.raises(KeyError, match="unknown dataset 'mnist'; known: lego, imm, ibug300w, fox"):
        data.how_to_get("mnist")


def test_how_to_get_names_every_folder_searched_and_the_url(tmp_path, monkeypatch):
    (tmp_path / "env").mkdir()
    monkeypatch.setenv("CS180_DATA_DIR", str(tmp_path / "env"))
    text = data.how_to_get("imm")
    assert text.startswith(f"Put imm_face_db (or imm_frontal_face_db) at {tmp_path / 'env' / 'imm_face_db'} or "
                           f"{tmp_path / 'cache' / 'imm_face_db'} ")
    assert data.REGISTRY["imm"].url in text and text.endswith("(python -m cs180utils data fetch imm)")
    # a search folder asked for comes first
    assert registry.where_to_put(data.REGISTRY["fox"], tmp_path / "arg").startswith(
        f"Put fox.jpg at {tmp_path / 'arg' / 'fox.jpg'} or {tmp_path / 'env' / 'fox.jpg'} or ")
