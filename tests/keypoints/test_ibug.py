"""dlib XML / .pts reading and writing (pixel indices in the files, continuous pixels here), crops and the way
back to original pixels."""
import numpy as np
import pytest
import torch
from PIL import Image

from cs180utils.keypoints import ibug

XML = """<?xml version='1.0' encoding='ISO-8859-1'?>
<dataset><name>fixture</name><images>
  <image file='imgs/a.png'>
    <box top='10' left='20' width='30' height='40'>
      <part name='00' x='20' y='10'/>
      <part name='01' x='50' y='50'/>
      <part name='02' x='35' y='30'/>
    </box>
    <box top='0' left='0' width='5' height='5' ignore='1'/>
  </image>
  <image file='imgs/b.png'>
    <box top='1' left='2' width='3' height='4'><part name='01' x='3' y='4'/></box>
  </image>
</images></dataset>
"""


def test_read_dlib_xml_fixture(tmp_path):
    (tmp_path / "labels.xml").write_text(XML)
    with pytest.raises(ValueError, match=r"image 'imgs/b.png', .* has 1 of its 3 parts \(missing: 00, 02\)"):
        ibug.read_dlib_xml(tmp_path / "labels.xml", num_keypoints=3)   # a partly labelled box is refused ...
    faces = ibug.read_dlib_xml(tmp_path / "labels.xml", num_keypoints=3, partial=True)   # ... unless asked for
    assert len(faces) == 2                                   # the ignored box is skipped
    a, b = faces
    assert a.image == (tmp_path / "imgs" / "a.png").resolve()
    assert a.box == (20.0, 10.0, 30.0, 40.0)                 # (left, top, width, height)
    # pixel indices in the file, the centres of those pixels here
    np.testing.assert_array_equal(a.keypoints, [[20.5, 10.5], [50.5, 50.5], [35.5, 30.5]])
    assert np.isnan(b.keypoints[0]).all() and b.keypoints[1].tolist() == [3.5, 4.5]   # missing part 00 -> NaN


def test_read_dlib_xml_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="dlib XML"):
        ibug.read_dlib_xml(tmp_path / "missing.xml")
    (tmp_path / "bad.xml").write_text("<dataset><images>")
    with pytest.raises(ValueError, match="not valid XML"):
        ibug.read_dlib_xml(tmp_path / "bad.xml")
    (tmp_path / "three.xml").write_text(XML)
    with pytest.raises(ValueError, match="more than the 2 keypoints"):
        ibug.read_dlib_xml(tmp_path / "three.xml", num_keypoints=2)


def test_a_point_at_index_10_reads_as_10_5_and_writes_back_as_10(tmp_path):
    (tmp_path / "one.xml").write_text(XML.replace("x='20' y='10'", "x='10' y='10'"))
    face = ibug.read_dlib_xml(tmp_path / "one.xml", num_keypoints=3, partial=True)[0]
    assert face.keypoints[0].tolist() == [10.5, 10.5]
    ibug.write_dlib_xml(tmp_path / "back.xml", [face])
    assert "<part name='00' x='10' y='10'/>" in (tmp_path / "back.xml").read_text()
    assert "<box top='10' left='20' width='30' height='40'>" in (tmp_path / "back.xml").read_text()  # boxes as they are


def test_write_then_read_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    kps = rng.integers(0, 200, size=(68, 2)).astype(np.float32) + 0.5      # pixel centres: what the files can hold
    box = ibug.tight_box(kps - 0.5)                          # whole pixels, as the files hold them
    face = ibug.Face(image=tmp_path / "pics" / "x y.jpg", box=box, keypoints=kps)
    path = ibug.write_dlib_xml(tmp_path / "out" / "faces.xml", [face, face])
    back = ibug.read_dlib_xml(path)
    assert len(back) == 2
    assert back[0].image == face.image.resolve()             # written relative to the XML, read back absolute
    np.testing.assert_array_equal(back[0].keypoints, kps)
    assert back[0].box == box


def test_read_pts(tmp_path):
    (tmp_path / "f.pts").write_text("version: 1\nn_points:  3\n{\n1 1\n10.5 20\n3 4\n}\n")
    face = ibug.read_pts(tmp_path / "f.pts")
    np.testing.assert_allclose(face.keypoints, [[0.5, 0.5], [10, 19.5], [2.5, 3.5]])   # 1-based centres -> continuous
    assert face.box == (0.5, 0.5, 9.5, 19.0)
    (tmp_path / "g.pts").write_text("version: 1\n{ 1 2 }")
    with pytest.raises(ValueError, match="not a 300-W .pts"):
        ibug.read_pts(tmp_path / "g.pts")


def test_crop_transform_round_trip_and_hand_values():
    tf = ibug.CropTransform(x0=10.0, y0=20.0, scale=0.5)
    # 2 original px right of and below the crop's corner -> 1 crop px from it; the corner itself -> 0
    np.testing.assert_allclose(tf.to_crop(np.array([12.0, 22.0])), [1.0, 1.0])
    np.testing.assert_allclose(tf.to_crop(np.array([10.0, 20.0])), [0.0, 0.0])
    xy = np.random.default_rng(1).uniform(-50, 300, size=(7, 2))
    np.testing.assert_allclose(tf.to_original(tf.to_crop(xy)), xy, atol=1e-9)
    t = torch.tensor(xy)
    torch.testing.assert_close(tf.to_original(tf.to_crop(t)), t)


def test_crop_face_keeps_a_bright_dot_under_its_keypoint():
    img = np.zeros((300, 400), np.uint8)
    dots = np.array([[150.5, 120.5], [210.5, 180.5], [170.5, 200.5]])   # centres of pixels (row 120, column 150)...
    for x, y in dots.astype(int):
        img[y - 2:y + 3, x - 2:x + 3] = 255                  # 5x5 bright squares centred on the points
    box = ibug.tight_box(dots)
    crop, kps, tf = ibug.crop_face(img, box, size=64, margin=0.3, keypoints=dots)
    assert crop.shape == (64, 64) and crop.dtype == np.uint8
    for x, y in kps:                                         # the crop is bright at the pixel holding each keypoint
        assert crop[int(y), int(x)] > 100
    np.testing.assert_allclose(tf.to_original(kps), dots, atol=1e-3)
    assert box == (150.5, 120.5, 60.0, 80.0)
    side = max(box[2], box[3]) * 1.6                         # 128 original px onto 64 crop px
    assert tf.scale == pytest.approx(64 / 128)
    assert (tf.x0, tf.y0) == pytest.approx((150.5 + 30 - 64, 120.5 + 40 - 64))   # centred on the box
    assert side == pytest.approx(128)


def test_face_crops_from_files_and_back_mapping(tmp_path):
    rng = np.random.default_rng(2)
    faces = []
    for i in range(3):
        arr = rng.integers(0, 255, size=(120 + 10 * i, 150, 3), dtype=np.uint8)
        Image.fromarray(arr).save(tmp_path / f"{i}.png")
        kps = rng.uniform(30, 100, size=(68, 2)).astype(np.float32)
        faces.append(ibug.Face(image=tmp_path / f"{i}.png", box=ibug.tight_box(kps), keypoints=kps))
    crops = ibug.FaceCrops.from_faces(faces, size=32, margin=0.2)
    assert crops.images.shape == (3, 1, 32, 32) and crops.images.dtype == torch.uint8
    assert crops.keypoints.shape == (3, 68, 2)
    np.testing.assert_allclose(crops.to_original(crops.keypoints), crops.original_keypoints(), atol=1e-3)
    ds = ibug.FaceDataset(crops)
    x, k = ds[1]
    assert x.shape == (1, 32, 32) and -0.5 <= float(x.min()) and float(x.max()) <= 0.5
    torch.testing.assert_close(k, crops.keypoints[1])


def test_missing_image_says_where(tmp_path):
    face = ibug.Face(image=tmp_path / "nope.jpg", box=(0, 0, 10, 10), keypoints=np.zeros((68, 2), np.float32))
    with pytest.raises(FileNotFoundError, match="relative to the XML"):
        ibug.FaceCrops.from_faces([face])


def test_real_300w_xml(real_data_dir):
    folder = real_data_dir / "ibug_300W_large_face_landmark_dataset"
    train = ibug.read_dlib_xml(folder / "labels_ibug_300W_train.xml")
    test = ibug.read_dlib_xml(folder / "labels_ibug_300W_test.xml")
    assert (len(train), len(test)) == (705, 100)
    assert all(f.image.exists() for f in test)
    crops = ibug.FaceCrops.from_faces(test[:10], size=64, margin=0.2)
    # box = the landmarks' tight box, so with a 20 % margin every point lies inside the crop, away from the edge
    assert float(crops.keypoints.min()) > 64 * 0.1 and float(crops.keypoints.max()) < 64 * 0.9
    np.testing.assert_allclose(crops.to_original(crops.keypoints), crops.original_keypoints(), atol=1e-3)
