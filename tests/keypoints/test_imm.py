import numpy as np
import pytest
import torch

from cs180utils.data import DataCorruptError, DataNotFoundError
from cs180utils.keypoints.augment import KeypointAugment
from cs180utils.keypoints.imm import ImmFaces, read_imm_folder, split_by_person
from cs180utils.keypoints.synthetic import write_imm_folder


@pytest.fixture(scope="module")
def frontal_folder(tmp_path_factory):
    return write_imm_folder(tmp_path_factory.mktemp("frontal"), "frontal73", n_people=12, per_person=2,
                            size=(120, 160))


def test_read_and_split_by_person(frontal_folder):
    recs = read_imm_folder(frontal_folder)
    assert len(recs) == 24 and recs[0].person == 1 and recs[-1].person == 12
    train, val = split_by_person(recs)
    assert {r.person for r in val} == {11, 12} and {r.person for r in train} == set(range(1, 11))
    assert not {r.person for r in train} & {r.person for r in val}


def test_imm58_split_and_custom_people(tmp_path):
    recs = read_imm_folder(write_imm_folder(tmp_path, "imm58", n_people=40, per_person=1, size=(48, 64)))
    train, val = split_by_person(recs)
    assert {r.person for r in val} == set(range(33, 41)) and len(train) == 32
    train, val = split_by_person(recs, val_people=[1])
    assert [r.person for r in val] == [1]


def test_dataset_items(frontal_folder):
    recs = read_imm_folder(frontal_folder)
    ds = ImmFaces(recs, size=(60, 80), points="nose")
    img, kp = ds[0]
    assert img.shape == (1, 60, 80) and img.dtype == torch.float32
    assert -0.5 <= img.min() and img.max() <= 0.5 and img.std() > 0.05
    # pixels of the 80x60 network input: the relative coordinates times (W, H)
    assert kp.shape == (1, 2) and torch.allclose(kp, torch.tensor(recs[0].points_rel[[45]] * [80, 60],
                                                                   dtype=torch.float32))
    full = ImmFaces(recs, size=(120, 160), points="all")
    assert full[3][1].shape == (73, 2)
    px = full.to_original(full.keypoints)
    np.testing.assert_allclose(px[0].numpy(), recs[0].points_px, rtol=1e-5)
    torch.testing.assert_close(full.to_input(px), full.keypoints)
    assert (full.eye_distance_px > 20).all()


def test_augmented_items_move_keypoints_but_stay_in_range(frontal_folder):
    torch.manual_seed(0)
    ds = ImmFaces(read_imm_folder(frontal_folder), size=(60, 80), augment=KeypointAugment())
    a, b = ds[0], ds[0]
    assert not torch.equal(a[1], b[1]) and a[0].shape == (1, 60, 80)


def test_missing_and_broken_folders(tmp_path):
    with pytest.raises(DataNotFoundError, match="no .asf"):
        read_imm_folder(tmp_path)
    write_imm_folder(tmp_path, "frontal73", n_people=1, per_person=1, size=(48, 64))
    (tmp_path / "01_01.jpg").unlink()
    with pytest.raises(DataCorruptError, match="host image"):
        read_imm_folder(tmp_path)


def test_real_frontal_db(real_data_dir):
    recs = read_imm_folder(real_data_dir / "imm_frontal_face_db")
    assert len(recs) == 120 and (recs[0].width, recs[0].height) == (800, 600)
    train, val = split_by_person(recs)
    assert len(train) == 100 and len(val) == 20
