import numpy as np
import pytest
import torch

from cs180utils.machinery.data import DataCorruptError, DataNotFoundError
from cs180utils.keypoints.augment import KeypointAugment
import cv2

from cs180utils.keypoints.asf import write_asf
from cs180utils.keypoints.imm import ImmFaces, crop_padded, read_imm_folder, split_by_person, zoom_frames
from cs180utils.machinery.keypoints.synthetic import write_imm_folder


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


def test_zoom_frames_centre_the_point_box_at_the_input_aspect():
    # points spanning x 100..300, y 200..260: centre (200, 230); a box 200 wide filling half the frame -> 400
    # wide, and 300 high for a 160x120 input
    pts = np.array([[[100.0, 200.0], [300.0, 260.0], [180.0, 240.0]]])
    np.testing.assert_array_equal(zoom_frames(pts, 0.5, (120, 160)), [[0, 80, 400, 300]])
    np.testing.assert_array_equal(zoom_frames(pts, 1.0, (60, 80)), [[100, 155, 200, 150]])
    # a box 100 wide and 300 high: 200 wide at fill 0.5 would be 150 high; the frame grows until the box's
    # height is 0.9 of the frame's: 333 high, 444 wide (y0 = 150 - 166.5 rounds to the even -16)
    tall = np.array([[[0.0, 0.0], [100.0, 300.0]]])
    np.testing.assert_array_equal(zoom_frames(tall, 0.5, (120, 160)), [[-172, -16, 444, 333]])
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        zoom_frames(pts, 1.5, (60, 80))


def test_crop_padded_repeats_the_edge():
    img = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(crop_padded(img, 1, 1, 2, 2), [[5, 6], [9, 10]])
    # left of column 0 and below the last row: row 2's first pixel, repeated
    np.testing.assert_array_equal(crop_padded(img, -2, 2, 3, 2), [[8, 8, 8], [8, 8, 8]])
    with pytest.raises(ValueError, match="positive size"):
        crop_padded(img, 0, 0, 0, 2)


def test_a_framed_face_shows_the_frame_and_maps_points_both_ways(tmp_path):
    # a 200x100 image, its column 0 grey (100) and a 2x2 white block at columns 40-41, rows 50-51; the frame
    # (x0=-20, y0=10, 80x60) resized to 40x30 is 2 original pixels per input pixel, so the block is input pixel
    # (row 20, column 30) and the point at its centre (41, 51) is (30.5, 20.5) of the input
    img = np.zeros((100, 200), np.uint8)
    img[:, 0] = 100
    img[50:52, 40:42] = 255
    cv2.imwrite(str(tmp_path / "01_01.png"), img)
    pts = np.full((73, 2), 0.5)
    pts[45] = [41 / 200, 51 / 100]
    write_asf(tmp_path / "01_01.asf", pts, "01_01.png")
    recs = read_imm_folder(tmp_path)
    ds = ImmFaces(recs, size=(30, 40), points="nose", frames=np.array([[-20, 10, 80, 60]]))
    x = (ds.images[0, 0].numpy() + 0.5) * 255
    assert divmod(int(x.argmax()), 40) == (20, 30) and x.max() == pytest.approx(255, abs=0.01)
    np.testing.assert_allclose(x[5, :10], 100, atol=0.01)     # left of the image: its edge column repeated
    np.testing.assert_allclose(x[5, 10], 50, atol=0.6)        # columns 0 (grey) and 1 (black) averaged
    torch.testing.assert_close(ds.keypoints, torch.tensor([[[30.5, 20.5]]]))
    torch.testing.assert_close(ds.to_original(ds.keypoints), torch.tensor([[[41.0, 51.0]]]))
    with pytest.raises(ValueError, match=r"frames must be \(N, 4\)"):
        ImmFaces(recs, size=(30, 40), frames=np.zeros((2, 4)))


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


def test_a_photo_too_small_for_a_face_is_refused_naming_it(tmp_path):
    """A 1 x 1 photo beside its .asf (a broken download) is refused from its header (issue #34)."""
    from PIL import Image
    folder = write_imm_folder(tmp_path / "imm", "frontal73", n_people=12, per_person=2, size=(60, 80))
    Image.new("RGB", (1, 1)).save(folder / "03_02.jpg")
    with pytest.raises(DataCorruptError, match=r"^IMM face: .*03_02.jpg is 1 x 1 pixels, too small for a face "
                                               r"photo \(at least 16 x 16; .*data fetch imm\)$"):
        read_imm_folder(folder)
