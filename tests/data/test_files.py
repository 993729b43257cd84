"""Reading files with clear errors, and the one content check (lookup, `data where` and downloads use it)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cs180utils.machinery import data
from cs180utils.machinery.data import DataCorruptError, Dataset, files

pytestmark = pytest.mark.usefixtures("isolated")

LEGO, IMM, IBUG, FOX = (data.REGISTRY[n] for n in ("lego", "imm", "ibug300w", "fox"))


def save_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


# ---- reading files with clear errors -------------------------------------------------------------------------

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
        data.check_dataset(LEGO, p)
    np.save(tmp_path / "one.npy", np.zeros((2, 3)))   # an .npy is not an .npz
    with pytest.raises(DataCorruptError, match=r"a single array of shape \(2, 3\), not an .npz archive"):
        data.load_npz(tmp_path / "one.npy", {"images_train": None})


def test_read_image(tmp_path, put_fox):
    p = put_fox(tmp_path, colour=(10, 20, 30))
    img = data.read_image(p)
    assert img.shape == (6, 8, 3) and img.dtype == np.uint8 and abs(int(img[0, 0, 2]) - 30) <= 3
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"<html>404</html>")
    with pytest.raises(DataCorruptError, match="not a readable image"):
        data.read_image(junk)
    with pytest.raises(DataCorruptError, match="not a usable copy"):
        data.check_dataset(FOX, junk)


# ---- the content check: single files -------------------------------------------------------------------------

def test_zero_byte_npz_and_eight_byte_jpg_are_refused(tmp_path):
    (tmp_path / "lego_200x200.npz").write_bytes(b"")
    (tmp_path / "fox.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JF")   # 8 bytes: the start of a JPEG
    assert data.problems(LEGO, tmp_path / "lego_200x200.npz") == ["empty (0 bytes)"]
    [why] = data.problems(FOX, tmp_path / "fox.jpg")
    assert why.startswith("not a readable image (OSError: ")
    with pytest.raises(DataCorruptError) as err:
        data.check_dataset(FOX, tmp_path / "fox.jpg")
    assert str(err.value).startswith(f"fox: {tmp_path / 'fox.jpg'} is not a usable copy: not a readable image")
    assert "Delete it and get it again: Put fox.jpg at" in str(err.value)


def test_npz_keys_are_checked_without_loading_an_array(tmp_path, monkeypatch):
    p = save_npz(tmp_path / "lego_200x200.npz", images_train=np.zeros((2, 4, 4, 3), np.uint8), focal=np.float64(1))

    def no_array(self, key):
        raise AssertionError(f"the check loaded the array {key!r}")

    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", no_array)
    assert data.problems(LEGO, p) == ["lacks the keys ['c2ws_train', 'images_val', 'c2ws_val', 'c2ws_test'] "
                                      "(it has ['focal', 'images_train'])"]
    save_npz(p, **{k: np.zeros(1) for k in LEGO.npz_keys})
    assert data.problems(LEGO, p) == [] and data.check_dataset(LEGO, p) == p


def test_an_image_is_opened_not_decoded(tmp_path, monkeypatch, put_fox):
    p = put_fox(tmp_path)

    def no_decode(self):
        raise AssertionError("the check decoded the image")

    monkeypatch.setattr(Image.Image, "load", no_decode)
    assert data.problems(FOX, p) == []


def test_wrong_kind_of_path(tmp_path):
    (tmp_path / "fox.jpg").mkdir()
    (tmp_path / "ibug").write_text("x")
    assert data.problems(FOX, tmp_path / "fox.jpg") == ["a folder, expected a file"]
    assert data.problems(IBUG, tmp_path / "ibug") == ["a file, expected a folder"]
    assert data.problems(FOX, tmp_path / "nope.jpg") == [f"{tmp_path / 'nope.jpg'} does not exist"]


def test_kind_is_judged_by_the_canonical_name():
    assert [files.kind(d) for d in (LEGO, IMM, IBUG, FOX)] == ["npz", "folder", "folder", "image"]
    plain = Dataset(name="x", filenames=("x.bin",), url="http://h/x.bin", archive=None, sha256=None)
    assert files.kind(plain) == "file"


# ---- the content check: folders ------------------------------------------------------------------------------

def imm_folder(root: Path, n: int = 100) -> Path:
    folder = root / "imm_face_db"
    folder.mkdir(parents=True)
    jpg = root / "face.jpg"
    Image.new("RGB", (4, 4), (9, 9, 9)).save(jpg)
    for i in range(n):
        (folder / f"{i:03d}.asf").write_text("58 points")
        (folder / f"{i:03d}.jpg").write_bytes(jpg.read_bytes())
    return folder


def test_folder_samples_the_first_middle_and_last_file_of_each_kind(tmp_path):
    folder = imm_folder(tmp_path)
    assert data.problems(IMM, folder) == []
    (folder / "001.jpg").write_bytes(b"12345678")     # not in the sample (000, 050, 099): not seen, by design
    assert data.problems(IMM, folder) == []
    (folder / "050.jpg").write_bytes(b"12345678")     # the middle one: round(99 / 2) = 50
    (folder / "099.asf").write_bytes(b"")             # the last .asf
    found = data.problems(IMM, folder)
    assert found[0] == "099.asf: empty (0 bytes)"
    assert found[1].startswith("050.jpg: not a readable image (UnidentifiedImageError: ") and len(found) == 2


def test_folder_counts_and_expected_files(tmp_path):
    folder = imm_folder(tmp_path, n=99)
    assert data.problems(IMM, folder) == ["99 files match '*.asf', expected at least 100",
                                          "99 files match '*.jpg', expected at least 100"]
    ibug = tmp_path / "ibug_300W_large_face_landmark_dataset"
    (ibug / "lfpw").mkdir(parents=True)
    (ibug / "labels_ibug_300W_train.xml").write_text("<dataset/>")
    (ibug / "labels_ibug_300W_test.xml").write_bytes(b"")
    assert data.problems(IBUG, ibug) == ["labels_ibug_300W_test.xml is empty (0 bytes)"]
    (ibug / "labels_ibug_300W_test.xml").write_text("<dataset/>")
    assert data.problems(IBUG, ibug) == []
