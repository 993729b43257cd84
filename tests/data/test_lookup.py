"""Lookup (explicit path > --data-dir > $CS180_DATA_DIR > cache), a refused first copy an error, notices, offline mode."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cs180utils.machinery import config, data
from cs180utils.machinery.data import DataNotFoundError, download, lookup

pytestmark = pytest.mark.usefixtures("isolated")


def test_lookup_order_explicit_then_env_then_cache(tmp_path, monkeypatch, put_fox):
    cache = put_fox(tmp_path / "cache")
    env = put_fox(tmp_path / "env")
    explicit = put_fox(tmp_path / "explicit")
    arg = put_fox(tmp_path / "arg")
    assert data.locate("fox") == cache                       # only the cache
    monkeypatch.setenv("CS180_DATA_DIR", str(tmp_path / "env"))
    assert data.locate("fox") == env                         # $CS180_DATA_DIR before the cache
    assert data.locate("fox", data_dir=tmp_path / "arg") == arg   # --data-dir before the environment
    assert data.locate("fox", path=explicit) == explicit     # an explicit path before everything
    assert data.resolve("fox", path=explicit) == explicit
    assert data.search_dirs(tmp_path / "arg") == [tmp_path / "arg", tmp_path / "env", tmp_path / "cache"]


def test_explicit_missing_path_is_an_error_not_a_fallback(tmp_path, put_fox):
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
    assert str(config.cache_dir() / "lego_200x200.npz") in msg and "data fetch lego" in msg
    assert "present but unusable" not in msg


def test_offline_env_stops_resolve_from_downloading(monkeypatch):
    calls = []
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


def test_find_or_notice_returns_the_path_silently(tmp_path, capsys, put_fox):
    p = put_fox(tmp_path / "cache")
    assert data.find_or_notice("fox") == p
    assert capsys.readouterr().err == ""


# ---- a refused first copy is an error naming it, not skipped (issue #34) ------------------------------------

def test_zero_byte_npz_first_is_an_error_not_skipped_for_a_good_copy_further_down(tmp_path, monkeypatch):
    env = tmp_path / "env"
    env.mkdir()
    (env / "lego_200x200.npz").write_bytes(b"")                   # first in the search order, but empty
    good = tmp_path / "cache" / "lego_200x200.npz"
    good.parent.mkdir()
    np.savez(good, **{k: np.zeros(1) for k in data.REGISTRY["lego"].npz_keys})
    monkeypatch.setenv("CS180_DATA_DIR", str(env))
    with pytest.raises(lookup.BrokenCopy, match=rf"lego: {env / 'lego_200x200.npz'} is not a usable copy \(empty "
                                                rf"\(0 bytes\)\), and it is the first copy of 'lego' in the folders "
                                                rf"searched; delete it or replace it with a good copy"):
        data.locate("lego")
    assert data.unusable("lego") == [f"{env / 'lego_200x200.npz'}: empty (0 bytes)"]
    assert lookup.copies("lego") == [(env / "lego_200x200.npz", ["empty (0 bytes)"]), (good, [])]
    (env / "lego_200x200.npz").unlink()
    assert data.locate("lego") == good


def test_a_refused_copy_is_an_error_and_no_stand_in(tmp_path, capsys):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "fox.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JF")   # 8 bytes: a JPEG's start
    for call in (lambda: data.locate("fox"), lambda: data.resolve("fox", download=False),
                 lambda: data.find_or_notice("fox")):
        with pytest.raises(lookup.BrokenCopy, match=rf"fox: {tmp_path / 'cache' / 'fox.jpg'} is not a usable copy "
                                                    rf"\(not a readable image \(OSError: "):
            call()
    assert "NOTICE" not in capsys.readouterr().err


def test_a_data_folder_that_is_a_file_is_named(tmp_path, monkeypatch):
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("CS180_DATA_DIR", str(tmp_path / "f"))
    with pytest.raises(NotADirectoryError, match=rf"^CS180_DATA_DIR={tmp_path / 'f'} is a file, not a folder: set "
                                                 rf"CS180_DATA_DIR to the folder that holds the datasets, or unset it$"):
        data.find_or_notice("lego")                     # not a stand-in, not advice to put files under a file
    monkeypatch.delenv("CS180_DATA_DIR")
    with pytest.raises(NotADirectoryError, match=rf"the data folder {tmp_path / 'f'} \(--data-dir / data_dir=\) is a file"):
        data.locate("lego", data_dir=tmp_path / "f")
    assert data.locate("lego", data_dir=tmp_path / "not-yet") is None    # a folder not made yet: only not searched


def test_an_explicit_path_is_not_content_checked(tmp_path):
    """The caller asked for this file: it is returned, and its reader gives the clear error."""
    p = tmp_path / "mine.npz"
    p.write_bytes(b"")
    assert data.locate("lego", path=p) == p


# ---- the IMM variants and the shared data ------------------------------------------------------------------

def test_imm_frontal_db_is_accepted_for_imm(tmp_path, put_fox):
    folder = tmp_path / "cache" / "imm_frontal_face_db"
    folder.mkdir(parents=True)
    jpg = put_fox(tmp_path, name="face.jpg").read_bytes()
    for i in range(120):
        (folder / f"{i // 10 + 1:02d}_{i % 10 + 1:02d}.asf").write_text("x")
        (folder / f"{i // 10 + 1:02d}_{i % 10 + 1:02d}.jpg").write_bytes(jpg)
    assert data.locate("imm") == folder


def test_real_data_is_found_and_checks_pass(real_data_dir):
    assert data.locate("imm", data_dir=real_data_dir).name in data.REGISTRY["imm"].filenames
    ibug = data.locate("ibug300w", data_dir=real_data_dir)
    assert (ibug / "labels_ibug_300W_train.xml").is_file()
    lego = data.check_dataset(data.REGISTRY["lego"], real_data_dir / "lego_200x200.npz")
    assert data.locate("lego", data_dir=real_data_dir) == lego
    arrays = data.load_npz(lego, {"images_train": ("N", 200, 200, 3), "c2ws_train": ("N", 4, 4),
                                  "images_val": ("M", 200, 200, 3), "c2ws_val": ("M", 4, 4),
                                  "c2ws_test": (None, 4, 4), "focal": ()})
    assert arrays["images_train"].shape[0] == 100 and arrays["images_train"].dtype == np.uint8
    assert 250 < float(arrays["focal"]) < 300


def test_checking_the_real_data_reads_no_array_and_opens_three_images(real_data_dir, monkeypatch):
    """Cheap enough for every lookup: the npz's keys come from its zip directory, and of the 120 IMM jpgs only
    the first, middle and last are opened."""
    def no_array(self, key):
        raise AssertionError(f"the check loaded the array {key!r}")

    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", no_array)
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda p, *a, **k: (opened.append(p.name), real_open(p, *a, **k))[1])
    assert data.locate("lego", data_dir=real_data_dir) == real_data_dir / "lego_200x200.npz"
    assert data.locate("imm", data_dir=real_data_dir) == real_data_dir / "imm_frontal_face_db"
    assert opened == ["01_01.jpg", "07_01.jpg", "12_10.jpg"]   # sorted: 0, round(119 / 2), 119
