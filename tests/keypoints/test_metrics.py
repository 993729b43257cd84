import numpy as np
import pytest
import torch

from cs180utils.keypoints import metrics
from cs180utils.keypoints.asf import read_asf


def test_nme_hand_checked():
    # two eye corners 100 px apart; every point off by (3, 4) -> 5 px -> 5 % of the eye distance
    target = np.zeros((2, 68, 2))
    target[:, 36] = [0, 0]
    target[:, 45] = [100, 0]
    pred = target + np.array([3.0, 4.0])
    assert metrics.nme(pred, target, layout="300w68") == pytest.approx(5.0)
    assert metrics.mae_px(pred, target) == pytest.approx(3.5)
    np.testing.assert_allclose(metrics.per_landmark_error(pred, target, eyes=(36, 45)), np.full(68, 5.0))


def test_nme_with_given_norm_for_nose_only_targets():
    pred, target = torch.tensor([[[10.0, 0.0]]]), torch.tensor([[[0.0, 0.0]]])
    assert metrics.nme(pred, target, norm=[200.0]) == pytest.approx(5.0)


def test_baseline_is_mean_shape_and_scores_its_spread():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(50, 73, 2)) * 5 + 100
    train[:, 16, 0] -= 60
    train[:, 24, 0] += 60
    m = metrics.mean_shape(train)
    np.testing.assert_allclose(m, train.mean(axis=0))
    out = metrics.evaluate(train, train, layout="frontal73", train_points=train)
    assert out["nme"] == 0 and out["baseline_nme"] > 1 and out["n_images"] == 50


def test_ced_curve():
    c = metrics.ced_curve([1.0, 3.0, 30.0], max_error=10, steps=11)
    assert c["fraction"][0] == 0 and c["fraction"][2] == pytest.approx(1 / 3)
    assert c["fraction"][-1] == pytest.approx(2 / 3) and c["failure_rate"] == pytest.approx(1 / 3)
    assert 0 < c["auc"] < 2 / 3


def test_layouts_and_errors():
    assert metrics.get_layout(73).nose == 45 and metrics.get_layout("imm58").nose == 52
    assert metrics.get_layout("300w68").eyes == (36, 45)
    with pytest.raises(ValueError, match="same shape"):
        metrics.nme(np.zeros((2, 68, 2)), np.zeros((2, 67, 2)), layout="300w68")
    with pytest.raises(ValueError, match="unknown keypoint layout"):
        metrics.get_layout("dlib5")


def test_frontal73_outer_eye_corners_on_real_files(real_data_dir):
    folder = real_data_dir / "imm_frontal_face_db"
    files = sorted(folder.glob("*.asf"))
    assert len(files) == 120
    i, j = metrics.LAYOUTS["frontal73"].eyes
    for f in files:
        s = read_asf(f)
        left, right = np.flatnonzero(s.paths == s.paths[i]), np.flatnonzero(s.paths == s.paths[j])
        assert s.points[left, 0].argmin() == 0 and left[0] == i      # leftmost point of the image-left eye
        assert s.points[right, 0].argmax() == 0 and right[0] == j    # rightmost point of the image-right eye
        assert s.points[:, 0][i] < s.points[45, 0] < s.points[:, 0][j]
