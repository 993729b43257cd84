"""Dataset lookup (explicit path > $CS180_DATA_DIR > data/), notices, offline mode, file checks, `data where`."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cs180utils import config, data
from cs180utils.data import DataCorruptError, DataNotFoundError

REPO = config.REPO_ROOT


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """A private cache folder, no CS180_DATA_DIR, downloads forbidden, a fresh notice memory."""
    monkeypatch.setenv("CS180_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CS180_DATA_DIR", raising=False)
    monkeypatch.setenv("CS180_OFFLINE", "1")
    monkeypatch.setattr(data, "_NOTICED", set())

    def no_network(*args, **kwargs):
        raise AssertionError("a lookup tried to download")

    from cs180utils import download
    monkeypatch.setattr(download, "fetch", no_network)


def put_fox(folder: Path, colour=(200, 100, 50)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "fox.jpg"
    Image.new("RGB", (8, 6), colour).save(p)
    return p


# ---- lookup order --------------------------------------------------------------------------------------------

def test_lookup_order_explicit_then_env_then_cache(tmp_path, monkeypatch):
    cache = put_fox(tmp_path / "cache")
    env = put_fox(tmp_path / "env")
    explicit = put_fox(tmp_path / "explicit")
    arg = put_fox(tmp_path / "arg")
    assert data.locate("fox") == cache                       # only data/
    monkeypatch.setenv("CS180_DATA_DIR", str(tmp_path / "env"))
    assert data.locate("fox") == env                         # $CS180_DATA_DIR before data/
    assert data.locate("fox", data_dir=tmp_path / "arg") == arg   # --data-dir before the environment
    assert data.locate("fox", path=explicit) == explicit     # an explicit path before everything
    assert data.resolve("fox", path=explicit) == explicit
    assert data.search_dirs(tmp_path / "arg") == [tmp_path / "arg", tmp_path / "env", tmp_path / "cache"]


def test_explicit_missing_path_is_an_error_not_a_fallback(tmp_path):
    put_fox(tmp_path / "cache")   # a copy exists elsewhere; a typo must not silently use it
    with pytest.raises(DataNotFoundError) as err:
        data.locate("fox", path=tmp_path / "foxx.jpg")
    msg = str(err.value)
    assert "foxx.jpg does not exist" in msg and data.REGISTRY["fox"].url in msg


def test_missing_everywhere_names_file_places_and_url():
    assert data.locate("lego") is None
    with pytest.raises(DataNotFoundError) as err:
        data.resolve("lego")
    msg = str(err.value)
    assert "lego_200x200.npz" in msg and "CS180_OFFLINE" in msg and data.REGISTRY["lego"].url in msg
    assert str(config.data_dir() / "lego_200x200.npz") in msg and "data fetch lego" in msg


def test_offline_env_stops_resolve_from_downloading(monkeypatch):
    calls = []
    from cs180utils import download
    monkeypatch.setattr(download, "fetch", lambda *a, **k: calls.append(a))
    with pytest.raises(DataNotFoundError, match="CS180_OFFLINE"):
        data.resolve("fox", download=True)
    assert calls == []
    monkeypatch.setenv("CS180_OFFLINE", "0")   # "0" means online: now resolve asks the downloader
    data.resolve("fox", download=True)
    assert len(calls) == 1


def test_find_or_notice_prints_once_per_name(capsys):
    assert data.find_or_notice("fox", fallback="a built-in photo") is None
    assert data.find_or_notice("fox", fallback="a built-in photo") is None
    err = capsys.readouterr().err
    assert err.count("NOTICE") == 1 and "a built-in photo" in err and "fox.jpg" in err
    assert data.find_or_notice("lego") is None
    assert capsys.readouterr().err.count("NOTICE: real data 'lego'") == 1


def test_find_or_notice_returns_the_path_silently(tmp_path, capsys):
    p = put_fox(tmp_path / "cache")
    assert data.find_or_notice("fox") == p
    assert capsys.readouterr().err == ""


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(KeyError, match="lego, imm, ibug300w, fox"):
        data.locate("mnist")


# ---- incomplete folders and the IMM variants -----------------------------------------------------------------

def test_incomplete_folder_is_skipped_and_explained(tmp_path, capsys):
    folder = tmp_path / "cache" / "imm_face_db"
    folder.mkdir(parents=True)
    (folder / "01-1m.asf").write_text("x")
    assert data.locate("imm") is None
    out = data.run(type("A", (), {"data_dir": None})(), "data where")
    assert out["imm"] is None
    assert "imm_face_db: 1 files match '*.asf', expected at least 100" in capsys.readouterr().err


def test_imm_frontal_db_is_accepted_for_imm(tmp_path):
    folder = tmp_path / "cache" / "imm_frontal_face_db"
    folder.mkdir(parents=True)
    for i in range(120):
        (folder / f"{i // 10 + 1:02d}_{i % 10 + 1:02d}.asf").write_text("x")
        (folder / f"{i // 10 + 1:02d}_{i % 10 + 1:02d}.jpg").write_text("x")
    assert data.locate("imm") == folder


def test_real_data_is_found_and_checks_pass(real_data_dir):
    assert data.locate("imm", data_dir=real_data_dir).name in data.REGISTRY["imm"].filenames
    ibug = data.locate("ibug300w", data_dir=real_data_dir)
    assert (ibug / "labels_ibug_300W_train.xml").is_file()
    lego = data.check_dataset(data.REGISTRY["lego"], real_data_dir / "lego_200x200.npz")
    arrays = data.load_npz(lego, {"images_train": ("N", 200, 200, 3), "c2ws_train": ("N", 4, 4),
                                  "images_val": ("M", 200, 200, 3), "c2ws_val": ("M", 4, 4),
                                  "c2ws_test": (None, 4, 4), "focal": ()})
    assert arrays["images_train"].shape[0] == 100 and arrays["images_train"].dtype == np.uint8
    assert 250 < float(arrays["focal"]) < 300


# ---- reading files with clear errors -------------------------------------------------------------------------

def save_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def test_load_npz_checks_keys_and_shapes(tmp_path):
    p = save_npz(tmp_path / "s.npz", images=np.zeros((3, 4, 5, 3), np.uint8), c2ws=np.zeros((3, 4, 4)),
                 focal=np.float64(2.0))
    out = data.load_npz(p, {"images": ("N", "H", "W", 3), "c2ws": ("N", 4, 4), "focal": ()})
    assert out["images"].shape == (3, 4, 5, 3) and float(out["focal"]) == 2.0
    with pytest.raises(DataCorruptError, match=r"lacks the keys \['c2ws_val'\]"):
        data.load_npz(p, {"images": None, "c2ws_val": None})
    with pytest.raises(DataCorruptError, match=r"\['c2ws'\] has shape \(3, 4, 4\), expected \('N', 3, 4\)"):
        data.load_npz(p, {"c2ws": ("N", 3, 4)})
    out = data.load_npz(p, {"images": ("N", "H", "W", 3)}, optional={"c2ws": ("N", 4, 4), "depth": ("N", "H", "W")})
    assert set(out) == {"images", "c2ws"}                      # optional keys: loaded when there
    with pytest.raises(DataCorruptError, match=r"\['c2ws'\] has shape \(3, 4, 4\), expected \(2, 4, 4\)"):
        data.load_npz(p, {"focal": ()}, optional={"c2ws": (2, 4, 4)})   # checked when there
    bad = save_npz(tmp_path / "b.npz", images=np.zeros((3, 4, 4, 3)), c2ws=np.zeros((2, 4, 4)))
    with pytest.raises(DataCorruptError, match="with {'N': 3}"):   # N disagrees across keys
        data.load_npz(bad, {"images": ("N", "H", "W", 3), "c2ws": ("N", 4, 4)})


def test_load_npz_of_a_broken_file_says_what_to_do(tmp_path):
    p = tmp_path / "lego_200x200.npz"
    p.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataCorruptError, match="not a readable .npz .* delete it and download it again"):
        data.load_npz(p, {"images_train": None})
    with pytest.raises(DataCorruptError, match="Delete it and get it again"):
        data.check_dataset(data.REGISTRY["lego"], p)


def test_read_image(tmp_path):
    p = put_fox(tmp_path, colour=(10, 20, 30))
    img = data.read_image(p)
    assert img.shape == (6, 8, 3) and img.dtype == np.uint8 and abs(int(img[0, 0, 2]) - 30) <= 3
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"<html>404</html>")
    with pytest.raises(DataCorruptError, match="not a readable image"):
        data.read_image(junk)
    with pytest.raises(DataCorruptError, match="not a usable copy"):
        data.check_dataset(data.REGISTRY["fox"], junk)


# ---- registry and its documentation ----------------------------------------------------------------------

def test_registry_entries_are_complete_and_documented():
    readme = (REPO / "data" / "README.md").read_text()
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


# ---- the command line ----------------------------------------------------------------------------------------

def test_data_where_finds_the_shared_data(real_data_dir, tmp_path):
    env = {**os.environ, "CS180_DATA_DIR": str(real_data_dir), "CS180_CACHE_DIR": str(tmp_path / "cache"),
           "CS180_OFFLINE": "1"}
    res = subprocess.run([sys.executable, "-m", "cs180utils", "data", "where"], capture_output=True, text=True,
                         env=env, cwd=REPO, timeout=120)
    assert res.returncode == 0, res.stderr
    found = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(found) == set(data.REGISTRY)
    assert found["lego"] == str(real_data_dir / "lego_200x200.npz")
    assert Path(found["imm"]).parent == real_data_dir
    assert found["ibug300w"] == str(real_data_dir / "ibug_300W_large_face_landmark_dataset")


def test_data_fetch_offline_fails_cleanly(tmp_path):
    env = {**os.environ, "CS180_CACHE_DIR": str(tmp_path / "cache"), "CS180_OFFLINE": "1"}
    env.pop("CS180_DATA_DIR", None)
    res = subprocess.run([sys.executable, "-m", "cs180utils", "data", "fetch", "lego"], capture_output=True,
                         text=True, env=env, cwd=REPO, timeout=120)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "lego_200x200.npz" in res.stderr and data.REGISTRY["lego"].url in res.stderr


def test_data_fetch_tries_every_name_and_reports_all_failures(tmp_path, monkeypatch, capsys):
    put_fox(tmp_path / "cache")
    args = type("A", (), {"data_dir": None, "names": ["lego", "fox", "imm"], "force": False})()
    with pytest.raises(DataNotFoundError) as err:
        data.run(args, "data fetch")
    msg = str(err.value)
    assert msg.startswith("2 of 3 datasets could not be had (fetched: fox):")
    assert "lego: lego: not found" in msg and "imm: imm: not found" in msg
    assert "fox: " in capsys.readouterr().err
    args.names = ["fox"]
    assert data.run(args, "data fetch") == {"fox": str(tmp_path / "cache" / "fox.jpg")}


def test_relative_data_dir_read_from_repo_root(monkeypatch, tmp_path):
    """CI sets CS180_DATA_DIR=../shared/data relative to the checkout; notebooks run one folder deeper."""
    import os
    from cs180utils import config, data
    target = tmp_path / "shared"
    target.mkdir()
    rel = os.path.relpath(target, config.REPO_ROOT)
    sub = tmp_path / "elsewhere"
    sub.mkdir()
    monkeypatch.chdir(sub)
    monkeypatch.setenv("CS180_DATA_DIR", rel)
    assert data.search_dirs()[0].resolve() == target.resolve()
