"""python -m cs180utils data where | fetch: JSON on the last line, every failure explained, refused copies named."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cs180utils.machinery import config, data
from cs180utils.machinery.data import DataCorruptError, DataNotFoundError, cli, lookup
from cs180utils.nerf.scene import generate_scene

pytestmark = pytest.mark.usefixtures("isolated")

REPO = config.REPO_ROOT


def args(**kw):
    return type("A", (), {"data_dir": None, "force": False, **kw})()


def test_incomplete_folder_is_an_error_and_explained(tmp_path, capsys):
    folder = tmp_path / "cache" / "imm_face_db"
    folder.mkdir(parents=True)
    (folder / "01-1m.asf").write_text("x")
    with pytest.raises(lookup.BrokenCopy, match="imm_face_db is not a usable copy"):
        data.locate("imm")
    with pytest.raises(DataCorruptError, match=rf"^the first copy found of imm \({folder}\) cannot be used"):
        cli.run(args(), "data where")   # after the listing: exit 1 (issue #34)
    assert "imm_face_db: 1 files match '*.asf', expected at least 100" in capsys.readouterr().err


def test_where_says_why_an_empty_npz_and_a_broken_jpg_are_not_found(tmp_path, capsys):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "lego_200x200.npz").write_bytes(b"")
    (cache / "fox.jpg").write_bytes(b"12345678")
    with pytest.raises(DataCorruptError, match=r"^the first copies found of lego \(.*\), fox \(.*\) cannot be used, "
                                               r"and training stops on them \(see above\): delete or replace each "
                                               r"with a good copy \(python -m cs180utils data fetch lego fox downloads "
                                               r"them once they are gone\)$"):
        cli.run(args(), "data where")
    err = capsys.readouterr().err.splitlines()
    assert (f"lego: {cache / 'lego_200x200.npz'}: empty (0 bytes) (error: the first copy found, training stops on it; "
            f"delete it or replace it with a good copy)") in err
    assert any(line.startswith(f"fox: {cache / 'fox.jpg'}: not a readable image (UnidentifiedImageError: ")
               for line in err)
    assert any(line.startswith("imm: not found. Put imm_face_db") for line in err)
    np.savez(cache / "lego_200x200.npz", **{k: np.zeros(1) for k in data.REGISTRY["lego"].npz_keys})
    (cache / "fox.jpg").unlink()
    with pytest.raises(DataCorruptError, match="of lego"):   # the keys are there, but training could not read it:
        cli.run(args(), "data where")
    assert "images_train'] has shape (1,)" in capsys.readouterr().err   # where reads it as training does
    generate_scene(cache / "lego_200x200.npz", size=8, n_train=2, n_val=1, n_test=1)
    assert cli.run(args(), "data where")["lego"] == str(cache / "lego_200x200.npz")


def test_where_lists_every_copy_with_its_state(tmp_path, capsys, monkeypatch):
    """A broken copy first is the error (not passed over for the good one further down); once it is gone the
    good one is used and a broken one after it is listed as such."""
    first, env, cache = tmp_path / "first", tmp_path / "env", tmp_path / "cache"
    for d in (first, env, cache):
        d.mkdir()
    (first / "lego_200x200.npz").write_bytes(b"PK\x03\x04garbage")
    generate_scene(env / "lego_200x200.npz", size=8, n_train=2, n_val=1, n_test=1)
    (cache / "lego_200x200.npz").write_bytes(b"")
    monkeypatch.setenv("CS180_DATA_DIR", str(env))
    with pytest.raises(DataCorruptError, match=rf"^the first copy found of lego \({first / 'lego_200x200.npz'}\)"):
        cli.run(args(data_dir=str(first)), "data where")
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("lego: ")]
    assert err == [f"lego: {first / 'lego_200x200.npz'}: not a readable .npz (BadZipFile: File is not a zip file) "
                   f"(error: the first copy found, training stops on it; delete it or replace it with a good copy)",
                   f"lego: {env / 'lego_200x200.npz'}: usable (not used: {first / 'lego_200x200.npz'} comes first)",
                   f"lego: {cache / 'lego_200x200.npz'}: empty (0 bytes) (not used: {first / 'lego_200x200.npz'} "
                   f"comes first)"]
    assert cli.run(args(), "data where")["lego"] == str(env / "lego_200x200.npz")
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("lego: ")]
    assert err == [f"lego: {env / 'lego_200x200.npz'}: used",
                   f"lego: {cache / 'lego_200x200.npz'}: empty (0 bytes) (not used: {env / 'lego_200x200.npz'} "
                   f"comes first)"]


def test_fetch_names_a_broken_copy_in_the_cache(tmp_path):
    """`data fetch` checks like lookup: a present but empty npz is not reported as fetched: the error names it
    and what to do (online, the downloader refuses it too: tests/data/test_download.py)."""
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "lego_200x200.npz").write_bytes(b"")
    with pytest.raises(DataNotFoundError) as err:
        cli.run(args(names=["lego"]), "data fetch")
    assert (f"lego: lego: {tmp_path / 'cache' / 'lego_200x200.npz'} is not a usable copy (empty (0 bytes)), and it "
            f"is the first copy of 'lego' in the folders searched; delete it") in str(err.value)


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


def test_data_fetch_tries_every_name_and_reports_all_failures(tmp_path, capsys, put_fox):
    put_fox(tmp_path / "cache")
    a = args(names=["lego", "fox", "imm"])
    with pytest.raises(DataNotFoundError) as err:
        cli.run(a, "data fetch")
    msg = str(err.value)
    assert msg.startswith("2 of 3 datasets could not be had (fetched: fox):")
    assert "lego: lego: not found" in msg and "imm: imm: not found" in msg
    assert "fox: " in capsys.readouterr().err
    a.names = ["fox"]
    assert cli.run(a, "data fetch") == {"fox": str(tmp_path / "cache" / "fox.jpg")}
