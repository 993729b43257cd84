"""Keypoints on your own photos (notebooks 07-09): find the face, predict, and rank the photos by how much the
model disagrees with itself on the mirror image, to show a success, a partial result and a failure.

    photos = load_photos("my_photos/")                     # the bundled portrait (and two harder versions) + yours
    results = predict_photos(model, cfg, photos)           # one PhotoResult per photo
    picks = pick_three([r.disagreement for r in results])  # [("best", i), ("middle", j), ("worst", k)]

No ground truth exists for a photo, so the score is the model's *mirror disagreement*: the prediction on the
crop, and the prediction on the mirrored crop mirrored back (``x -> S - x``, left and right points swapped by
:data:`FLIP_300W`), differ by a mean distance that is given in percent of the outer-eye-corner distance (the
NME's normaliser). A face the model has understood looks the same to it both ways (0 for a mirror-symmetric
model); a face it guesses at does not. The detector's confidence (:func:`detect.detect_faces_scored`) is
reported next to it.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps

from cs180utils.keypoints import detect, ibug
from cs180utils.readers import MIN_FACE_SIDE
from cs180utils.keypoints.ibug import FLIP_300W   # the mirror pairing (mirror_predictions' default)

EYES = (36, 45)                                                        # outer eye corners: the normaliser
SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
BUNDLED = "grace_hopper.jpg"                                           # matplotlib's sample portrait


@dataclass
class Photo:
    """One photo to predict on."""
    name: str                                   # shown in titles (the file name)
    image: np.ndarray                           # (H, W, 3) uint8 RGB
    box: tuple[float, float, float, float] | None = None   # a 300-W style face box given with it; None: detect


@dataclass
class PhotoResult:
    """The prediction on one photo, in its pixels."""
    photo: Photo
    box: tuple[float, float, float, float]      # the 300-W style box the crop was cut around
    how: str                                    # "Haar cascade", "box given" or "no face found: centre box"
    detector: float                             # the cascade's weight for the face (higher: surer); NaN without
    keypoints: np.ndarray                       # (K, 2) photo pixels: the prediction
    mirrored: np.ndarray                        # (K, 2) photo pixels: the mirror image's prediction, mirrored back
    disagreement: float                         # mean |keypoints - mirrored|, % of the outer-eye distance


# ---- photos ---------------------------------------------------------------------------------------------------

def read_photo(source: str | os.PathLike | bytes, name: str | None = None) -> Photo:
    """A photo from a file path or the bytes of an image file, upright (EXIF orientation applied), RGB."""
    label = name or (Path(source).name if not isinstance(source, (bytes, bytearray, memoryview)) else "upload")
    try:
        img = Image.open(io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview)) else source)
        img = ImageOps.exif_transpose(img).convert("RGB")
    except FileNotFoundError:
        raise FileNotFoundError(f"photo {source} does not exist; check the path (PHOTOS_DIR)") from None
    except Exception as exc:   # not an image, truncated
        raise ValueError(f"photo {label!r} is not a readable image ({type(exc).__name__}: {exc}); use a "
                         f"JPEG or PNG file") from exc
    if min(img.size) < MIN_FACE_SIDE:
        raise ValueError(f"photo {label!r} is {img.width} x {img.height} pixels, too small to hold a face (at least "
                         f"{MIN_FACE_SIDE} x {MIN_FACE_SIDE}); use a larger photo")
    return Photo(label, np.asarray(img))


def bundled_photos() -> list[Photo]:
    """The portrait of Grace Hopper bundled with matplotlib, and two harder versions of it made here: turned
    by 40 degrees about the face, and with the lower face covered. All three use the face box the cascade finds
    in the original (so the versions differ only in the face, not in the crop)."""
    import matplotlib.cbook  # noqa: PLC0415
    photo = read_photo(matplotlib.cbook.get_sample_data(BUNDLED, asfileobj=False), BUNDLED)
    box = detect.face_box(photo.image)
    left, top, w, h = box
    cx, cy = left + w / 2, top + h / 2
    turned = Image.fromarray(photo.image).rotate(40, resample=Image.Resampling.BILINEAR, center=(cx, cy),
                                                 fillcolor=(128, 128, 128))
    covered = Image.fromarray(photo.image.copy())
    ImageDraw.Draw(covered).rectangle((left - 0.1 * w, top + 0.6 * h, left + 1.1 * w, top + 1.2 * h),
                                      fill=(90, 90, 90))
    return [Photo(BUNDLED, photo.image, box), Photo(f"{BUNDLED}, turned 40°", np.asarray(turned), box),
            Photo(f"{BUNDLED}, lower face covered", np.asarray(covered), box)]


def folder_photos(folder: str | os.PathLike) -> list[Photo]:
    """Every image file (``.jpg``, ``.png``, ...) directly in ``folder``, by name."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"photo folder {folder} does not exist; set PHOTOS_DIR to a folder of your photos "
                                f"(JPEG or PNG), or to None for the bundled portrait only")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)
    if not files:
        raise ValueError(f"no photos in {folder}: put JPEG or PNG files ({', '.join(SUFFIXES)}) in it")
    return [read_photo(p) for p in files]


def uploaded_photos(value: Iterable) -> list[Photo]:
    """Photos from an ipywidgets ``FileUpload``'s ``value`` (dicts with ``name`` and ``content``) or from
    ``(name, bytes)`` pairs."""
    photos = []
    for item in value:
        name, content = (item["name"], item["content"]) if isinstance(item, dict) else item
        photos.append(read_photo(bytes(content), name))
    return photos


def load_photos(folder: str | os.PathLike | None = None, uploads: Iterable = (), bundled: bool = True) -> list[Photo]:
    """The bundled photos (:func:`bundled_photos`, unless ``bundled=False``), then those of ``folder`` (if
    given), then ``uploads`` (a ``FileUpload`` value)."""
    photos = bundled_photos() if bundled else []
    if folder is not None:
        photos += folder_photos(folder)
    photos += uploaded_photos(uploads)
    if not photos:
        raise ValueError("no photos: give a folder, upload some, or keep bundled=True")
    return photos


def find_face(photo: Photo) -> tuple[tuple[float, float, float, float], str, float]:
    """(300-W style box, how it was found, detector weight) of the photo's face: its own box if it has one, else
    the largest face of the Haar cascade mapped by :func:`detect.to_landmark_box`, else a centred box (40 % of
    the photo's sides), so a prediction is always made, and the title says which."""
    if photo.box is not None:
        return detect.face_box(photo.image, user_box=photo.box), "box given", float("nan")
    found = detect.detect_faces_scored(photo.image)
    if found:
        return detect.to_landmark_box(found[0][0]), "Haar cascade", found[0][1]
    h, w = photo.image.shape[:2]
    return (0.3 * w, 0.3 * h, 0.4 * w, 0.4 * h), "no face found: centre box", float("nan")


# ---- predictions and the score ------------------------------------------------------------------------------

@torch.no_grad()
def mirror_predictions(model: torch.nn.Module, cfg, crops: torch.Tensor,
                       flip: Sequence[int] = FLIP_300W) -> tuple[torch.Tensor, torch.Tensor]:
    """The prediction on crops (N, 1, S, S) and the prediction on their mirror images mirrored back, both
    (N, K, 2) crop pixels (``experiment_300w.predict``: any of the three models)."""
    from cs180utils.machinery.keypoints import experiment_300w  # noqa: PLC0415
    pred = experiment_300w.predict(model, cfg, crops, tta_flip=False)        # (N, K, 2)
    back = experiment_300w.predict(model, cfg, crops.flip(-1), tta_flip=False).clone()  # in the mirror image
    if back.shape[1] != len(flip):
        raise ValueError(f"the model predicts {back.shape[1]} points; the mirror pairing has {len(flip)}")
    back[..., 0] = crops.shape[-1] - back[..., 0]                             # x -> S - x
    return pred, back[:, list(flip)]                                          # left and right swapped back


def mirror_disagreement(pred, mirrored, eyes: tuple[int, int] = EYES) -> np.ndarray:
    """(N,) mean distance between ``pred`` and ``mirrored`` (N, K, 2) in percent of the outer-eye-corner distance
    of their average (like an NME of one against the other); inf where that distance is 0."""
    p = np.asarray(pred, dtype=np.float64)
    q = np.asarray(mirrored, dtype=np.float64)
    if p.shape != q.shape or p.ndim != 3 or p.shape[-1] != 2:
        raise ValueError(f"pred and mirrored must both be (N, K, 2); got {p.shape} and {q.shape}")
    mean = (p + q) / 2
    eye = np.linalg.norm(mean[:, eyes[0]] - mean[:, eyes[1]], axis=-1)      # (N,)
    err = np.linalg.norm(p - q, axis=-1).mean(-1)                            # (N,)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(eye > 0, 100 * err / np.where(eye > 0, eye, 1), np.inf)


def predict_photos(model: torch.nn.Module, cfg, photos: Sequence[Photo]) -> list[PhotoResult]:
    """Find the face in each photo (:func:`find_face`), crop it as in training (``cfg.crop_size``,
    ``cfg.margin``), predict it and its mirror image, and score their disagreement."""
    if not photos:
        raise ValueError("no photos to predict on")
    found, crops, tfs = [], [], []
    for photo in photos:
        box, how, weight = find_face(photo)
        crop, _, tf = ibug.crop_face(photo.image, box, cfg.crop_size, cfg.margin)
        found.append((box, how, weight))
        crops.append(crop)
        tfs.append(tf)
    pred, back = mirror_predictions(model, cfg, torch.from_numpy(np.stack(crops))[:, None])   # (N, K, 2) each
    score = mirror_disagreement(pred, back)
    return [PhotoResult(photo=ph, box=box, how=how, detector=weight,
                        keypoints=tf.to_original(pred[i].double().numpy()),
                        mirrored=tf.to_original(back[i].double().numpy()), disagreement=float(score[i]))
            for i, (ph, (box, how, weight), tf) in enumerate(zip(photos, found, tfs))]


def pick_three(scores: Sequence[float]) -> list[tuple[str, int]]:
    """``[("best", i), ("middle", j), ("worst", k)]``: the lowest, median and highest score (lower is better;
    NaN counts as worst). Two scores give best and worst, one gives best."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or not len(s):
        raise ValueError(f"need one score per photo; got {s.shape}")
    order = np.argsort(np.where(np.isnan(s), np.inf, s), kind="stable")
    n = len(order)
    if n == 1:
        return [("best", int(order[0]))]
    if n == 2:
        return [("best", int(order[0])), ("worst", int(order[1]))]
    return [("best", int(order[0])), ("middle", int(order[(n - 1) // 2])), ("worst", int(order[-1]))]


def describe(results: Sequence[PhotoResult]) -> str:
    """One line per photo: its mirror disagreement and how its face was found."""
    return "\n".join(f"{r.photo.name}: mirror disagreement {r.disagreement:.1f} %; face: {r.how}"
                     + ("" if np.isnan(r.detector) else f", weight {r.detector:.2f}") for r in results)
