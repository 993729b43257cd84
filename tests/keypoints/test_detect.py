"""Offline face detection with OpenCV's bundled Haar cascade, and the user-box fallback."""
import matplotlib.cbook
import numpy as np
import pytest
from PIL import Image

from cs180utils.keypoints import detect, ibug


def _iou(a, b):
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_grace_hopper_has_one_face_in_the_upper_middle():
    img = np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    boxes = detect.detect_faces(img)
    assert len(boxes) >= 1
    left, top, w, h = boxes[0]
    H, W = img.shape[:2]
    assert 0.15 * W < w < 0.8 * W                                    # a portrait: the face is large
    assert 0.25 * W < left + w / 2 < 0.75 * W and top + h / 2 < 0.6 * H
    lb = detect.face_box(img)
    assert _iou(lb, boxes[0]) > 0.4                                 # the landmark box sits inside the Haar box


def test_user_box_and_no_face():
    blank = np.zeros((120, 160), np.uint8)
    with pytest.raises(detect.NoFaceFound, match="user_box"):
        detect.face_box(blank)
    assert detect.face_box(blank, user_box=(10, 20, 30, 40)) == (10.0, 20.0, 30.0, 40.0)
    with pytest.raises(ValueError, match="positive size"):
        detect.face_box(blank, user_box=(10, 20, 0, 40))


def test_to_landmark_box_hand_values():
    bm = {"dx": 0.1, "dy": 0.2, "w": 0.5, "h": 0.8}
    # Haar box side 100 centred at (150, 250): centre moves by (10, 20), size 50 x 80
    assert detect.to_landmark_box((100, 200, 100, 100), bm) == pytest.approx((135.0, 230.0, 50.0, 80.0))


def test_detected_boxes_match_the_300w_boxes(real_data_dir):
    faces = ibug.read_dlib_xml(real_data_dir / "ibug_300W_large_face_landmark_dataset" / "labels_ibug_300W_test.xml")
    ious = []
    for f in faces[:20]:
        img = np.asarray(Image.open(f.image).convert("L"))
        try:
            ious.append(_iou(detect.face_box(img), f.box))
        except detect.NoFaceFound:
            ious.append(0.0)
    assert np.median(ious) > 0.6        # BOX_MAP turns Haar boxes into boxes like the annotated ones
