"""Find faces offline with OpenCV's bundled Haar cascade (``cv2.data.haarcascades``), for "my collection"
photos in notebook 07; a user-given box is the fallback when no face is found.

The cascade's square boxes include the forehead and stop above the chin; the keypoint models were trained
on 300-W boxes (the landmarks' tight bounding box). :func:`to_landmark_box` converts one into the other with
a fixed linear map fitted on the 300-W training faces (see ``fit_box_map``; the fitted numbers are
``BOX_MAP``), so a detected face is cropped the way the training faces were.

    >>> boxes = detect_faces(gray)                 # [(left, top, width, height), ...] Haar boxes, largest first
    >>> box = face_box(gray)                       # landmark-style box of the largest face
    >>> box = face_box(gray, user_box=(x, y, w, h))  # the user's landmark-style box, no detection
    >>> detect_faces_scored(gray)                  # [((left, top, width, height), weight), ...]: with confidence
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

CASCADE = "haarcascade_frontalface_default.xml"

# Landmark box from a Haar box (l, t, s, s): centre shift and size as fractions of s, fitted by fit_box_map on
# the 300-W training faces where the cascade found the annotated face (median over faces).
BOX_MAP = {"dx": 0.0, "dy": 0.153, "w": 0.853, "h": 0.847}   # fit_box_map on 300 train faces (290 found)


class NoFaceFound(RuntimeError):
    """The detector found no face; pass a box (left, top, width, height) of the face instead."""


_CASCADES: dict[str, cv2.CascadeClassifier] = {}


def cascade(name: str = CASCADE) -> cv2.CascadeClassifier:
    """OpenCV's bundled cascade ``name`` (loaded once)."""
    if name not in _CASCADES:
        path = Path(cv2.data.haarcascades) / name
        clf = cv2.CascadeClassifier(str(path))
        if clf.empty():
            raise FileNotFoundError(f"OpenCV cascade {path} is missing or unreadable; reinstall "
                                    f"opencv-python-headless, or pass the face box yourself")
        _CASCADES[name] = clf
    return _CASCADES[name]


def _gray(image) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 3:
        img = cv2.cvtColor(img[..., :3].astype(np.uint8), cv2.COLOR_RGB2GRAY)
    if img.dtype != np.uint8:
        raise ValueError(f"detect_faces expects a uint8 image (H, W) or (H, W, 3); got {img.dtype} {img.shape}")
    return img


def detect_faces(image, min_size_frac: float = 0.1, scale_factor: float = 1.1,
                 min_neighbors: int = 5) -> list[tuple[float, float, float, float]]:
    """Haar-cascade face boxes ``(left, top, width, height)`` in pixels, largest first ([] if none).

    Args:
        image: (H, W) or (H, W, 3) uint8 array or PIL image.
        min_size_frac: smallest face, as a fraction of the image's shorter side.
    """
    gray = cv2.equalizeHist(_gray(image))
    m = max(24, int(min(gray.shape) * min_size_frac))
    found = cascade().detectMultiScale(gray, scaleFactor=scale_factor, minNeighbors=min_neighbors,
                                       minSize=(m, m))
    boxes = [tuple(float(v) for v in b) for b in (found if len(found) else [])]
    return sorted(boxes, key=lambda b: -b[2] * b[3])


def detect_faces_scored(image, min_size_frac: float = 0.1, scale_factor: float = 1.1,
                        min_neighbors: int = 5) -> list[tuple[tuple[float, float, float, float], float]]:
    """Like :func:`detect_faces`, each box with the cascade's confidence: ``[(box, weight), ...]``, largest box
    first. ``weight`` is OpenCV's level weight of the detection (``detectMultiScale3``: the last stage's sum
    over its threshold; higher is surer, about 1-6 for faces), comparable between photos, not a probability."""
    gray = cv2.equalizeHist(_gray(image))
    m = max(24, int(min(gray.shape) * min_size_frac))
    found, _, weights = cascade().detectMultiScale3(gray, scaleFactor=scale_factor, minNeighbors=min_neighbors,
                                                    minSize=(m, m), outputRejectLevels=True)
    scored = [(tuple(float(v) for v in b), float(np.ravel(w)[0])) for b, w in zip(found, weights)] if len(found) else []
    return sorted(scored, key=lambda bw: -bw[0][2] * bw[0][3])


def to_landmark_box(haar_box, box_map: dict | None = None) -> tuple[float, float, float, float]:
    """A Haar box -> the 300-W style box (the tight box of the 68 landmarks) it most likely corresponds to."""
    bm = box_map or BOX_MAP
    left, top, w, h = haar_box
    s = (w + h) / 2
    cx, cy = left + w / 2 + bm["dx"] * s, top + h / 2 + bm["dy"] * s
    bw, bh = bm["w"] * s, bm["h"] * s
    return cx - bw / 2, cy - bh / 2, bw, bh


def face_box(image, user_box=None) -> tuple[float, float, float, float]:
    """The landmark-style box of the largest detected face, or ``user_box`` when given.

    Raises :class:`NoFaceFound` (saying to pass a box) when nothing is detected.
    """
    if user_box is not None:
        if len(user_box) != 4 or user_box[2] <= 0 or user_box[3] <= 0:
            raise ValueError(f"a face box is (left, top, width, height) with positive size; got {user_box}")
        return tuple(float(v) for v in user_box)
    boxes = detect_faces(image)
    if not boxes:
        raise NoFaceFound("no face found by the Haar cascade (it wants a roughly frontal, upright face); pass "
                          "user_box=(left, top, width, height) around the face, eyebrows to chin")
    return to_landmark_box(boxes[0])


def fit_box_map(images, landmark_boxes) -> dict:
    """Fit :data:`BOX_MAP` from images and their annotated landmark boxes: the median centre shift and size
    (fractions of the Haar box side) over the faces where the largest detection overlaps the annotated face."""
    rows = []
    for img, (l, t, w, h) in zip(images, landmark_boxes):
        found = detect_faces(img)
        if not found:
            continue
        hl, ht, hw, hh = found[0]
        s = (hw + hh) / 2
        cx, cy = l + w / 2, t + h / 2
        if abs(cx - (hl + hw / 2)) > s / 2 or abs(cy - (ht + hh / 2)) > s / 2:
            continue  # detected something else
        rows.append(((cx - hl - hw / 2) / s, (cy - ht - hh / 2) / s, w / s, h / s))
    if not rows:
        raise ValueError("the cascade found none of the annotated faces; cannot fit the box map")
    med = np.median(np.array(rows), axis=0)
    return {"dx": float(med[0]), "dy": float(med[1]), "w": float(med[2]), "h": float(med[3]), "n": len(rows)}
