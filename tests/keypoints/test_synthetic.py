import numpy as np
import pytest
import torch

from cs180utils.keypoints import heatmaps, metrics
from cs180utils.machinery.keypoints.synthetic import make_faces, template


@pytest.mark.parametrize("layout", ["imm58", "frontal73", "300w68"])
def test_faces_have_the_layout_and_stay_inside(layout):
    f = make_faces(20, layout, size=(120, 160), seed=3)
    lay = metrics.LAYOUTS[layout]
    assert f.images.shape == (20, 120, 160) and f.images.dtype == np.uint8
    assert f.points.shape == (20, lay.n_points, 2)
    assert (f.points[..., 0] > 0).all() and (f.points[..., 0] < 160).all()
    assert (f.points[..., 1] > 0).all() and (f.points[..., 1] < 120).all()
    assert sorted(set(f.persons)) == [1, 2]
    # the eye corners are the outermost eye points, the nose tip sits between them and below
    i, j = lay.eyes
    t = template(layout)
    assert t[i, 0] < t[lay.nose, 0] < t[j, 0] and t[lay.nose, 1] > t[i, 1]
    assert abs(t[i, 0] + t[j, 0]) < 1e-9 and abs(t[i, 1] - t[j, 1]) < 1e-9   # a mirror pair
    d = metrics.eye_distance(f.points, layout=layout)
    assert 0.12 * 160 < d.mean() < 0.26 * 160


def test_same_seed_same_faces_and_the_nose_is_visible():
    a, b = make_faces(4, "frontal73", seed=7), make_faces(4, "frontal73", seed=7)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.points, b.points)
    assert not np.array_equal(a.images, make_faces(4, "frontal73", seed=8).images)
    # the drawn nose tip is brighter than the face around it (a learnable feature)
    x, y = np.floor(a.points[0, 45]).astype(int)                   # the pixel holding the tip
    patch = a.images[0, y - 12:y + 13, x - 12:x + 13].astype(float)
    assert a.images[0, y, x] > np.median(patch)


def test_points_are_where_the_features_are_drawn_in_continuous_pixels():
    """The bright nose tip's centre of mass, with pixel (row i, column j) at (j + 0.5, i + 0.5), lies on the
    returned point: within 0.25 px across the face (OpenCV's integer coordinates would be 0.5 px off)."""
    f = make_faces(6, "300w68", size=256, seed=0, pose=0.0)
    for img, pts in zip(f.images, f.points):
        x, y = pts[30]                                              # the nose tip, on the face's midline
        j0, i0, r = int(x), int(y), 6
        win = img[i0 - r:i0 + r + 1, j0 - r:j0 + r + 1].astype(float)
        w = np.clip(win - np.percentile(win, 60), 0, None)          # the bright tip
        centre = heatmaps.soft_argmax(torch.from_numpy(w).float()[None, None], normalize="sum")[0, 0]  # in the window
        assert abs(float(centre[0]) + j0 - r - x) < 0.25


def test_300w_folder_goes_through_the_real_reader(tmp_path):
    from cs180utils.machinery.keypoints import synthetic
    from cs180utils.keypoints import ibug
    train_xml, test_xml = synthetic.write_300w_folder(tmp_path, n_train=6, n_val=2, size=64)
    train, test = ibug.read_dlib_xml(train_xml), ibug.read_dlib_xml(test_xml)
    assert len(train) == 6 and len(test) == 2 and train[0].image.exists()
    faces = make_faces(6, "300w68", size=64, seed=0)                # the same faces, before the file
    # the file holds pixel indices: each point comes back as the centre of the pixel holding it
    np.testing.assert_array_equal(train[0].keypoints, np.floor(faces.points[0]) + 0.5)
