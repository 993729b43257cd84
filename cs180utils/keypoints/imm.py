"""The IMM faces as a torch ``Dataset``: grayscale, pixel values in [-0.5, 0.5], resized, keypoints in pixels
of the resized image, split by person.

    >>> records = read_imm_folder(folder)                # an IMM / IMM Frontal folder (the machinery finds it)
    >>> train, val = split_by_person(records)             # Frontal: people 1-10 / 11-12; IMM: 1-32 / 33-40
    >>> ds = ImmFaces(train, size=(60, 80), points="nose")
    >>> image, kp = ds[0]                                 # (1, 60, 80) float32, (1, 2) pixels (x, y) in [0, 80] x [0, 60]
    >>> near = ImmFaces(train, (120, 160), frames=zoom_frames(points_px, 0.6, (120, 160)))   # crops around faces

Keypoints follow the package's one coordinate convention (continuous pixel coordinates, pixel centres at
``+ 0.5``; see :mod:`cs180utils.keypoints`). Both layouts are read by :mod:`cs180utils.keypoints.asf`; the layout
(58 or 73 points) comes from the files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from cs180utils.readers import MIN_FACE_SIDE, DataCorruptError, DataNotFoundError, read_gray
from cs180utils.keypoints.asf import parse_name, read_asf
from cs180utils.keypoints.augment import KeypointAugment
from cs180utils.keypoints.metrics import Layout, get_layout

# Person splits of the course (validation = the last people), by layout.
SPLITS: dict[str, tuple[range, range]] = {
    "imm58": (range(1, 33), range(33, 41)),
    "frontal73": (range(1, 11), range(11, 13)),
}


@dataclass
class ImmRecord:
    image: Path               # the host image
    person: int               # person id from the file name (1-based)
    index: int                # image number of that person
    points_rel: np.ndarray    # (K, 2) float64, (x, y) as fractions of width / height
    width: int                # original image size in pixels
    height: int

    @property
    def points_px(self) -> np.ndarray:
        """(K, 2) keypoints in original-image pixels."""
        return self.points_rel * np.array([self.width, self.height])


def read_imm_folder(folder: str | os.PathLike) -> list[ImmRecord]:
    """All faces of an IMM-style folder (one ``.asf`` per image), sorted by person and image.

    Raises :class:`cs180utils.readers.DataNotFoundError` for a folder without ``.asf`` files and
    :class:`cs180utils.readers.DataCorruptError` for unreadable files, mixed layouts, a photo without its
    ``.asf`` (an incomplete copy, not one to train on without a word) and a photo too small to hold a face.
    """
    folder = Path(folder)
    files = sorted(folder.glob("*.asf"))
    if not files:
        raise DataNotFoundError(f"{folder} holds no .asf files: point --data-dir at the folder that holds "
                                f"imm_face_db/ or imm_frontal_face_db/ (python -m cs180utils data fetch imm "
                                f"downloads the IMM Face Database)")
    records = []
    for f in files:
        shape = read_asf(f)
        img = shape.image_path
        if not img.exists():
            raise DataCorruptError(f"{f}: its host image {img.name} is missing from {folder}")
        h, w = _image_size(img)
        if min(h, w) < MIN_FACE_SIDE:
            raise DataCorruptError(f"IMM face: {img} is {w} x {h} pixels, too small for a face photo (at least "
                                   f"{MIN_FACE_SIDE} x {MIN_FACE_SIDE}; the IMM photos are 640 x 480 or 800 x 600): "
                                   f"{REFETCH}")
        person, index = parse_name(f.name)
        records.append(ImmRecord(img, person, index, shape.points, w, h))
    _refuse_unlabelled(folder, {r.image.name for r in records}, len(records))
    counts = {len(r.points_rel) for r in records}
    if len(counts) != 1:
        raise DataCorruptError(f"{folder}: files with different point counts {sorted(counts)}; "
                                     f"keep one IMM layout per folder")
    return sorted(records, key=lambda r: (r.person, r.index))


REFETCH = "replace the folder with a fresh copy (delete it, then python -m cs180utils data fetch imm)"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def _refuse_unlabelled(folder: Path, labelled: set[str], n_labelled: int) -> None:
    """A photo of the folder that no ``.asf`` names (its label file is missing) is an incomplete dataset, not one
    to train on without it: :class:`DataCorruptError` naming the photo and the missing ``.asf``."""
    orphans = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES and p.name not in labelled)
    if orphans:
        more = f" (and {len(orphans) - 1} more photos without one)" if len(orphans) > 1 else ""
        raise DataCorruptError(f"IMM faces: {orphans[0]} has no label file {orphans[0].with_suffix('.asf').name} "
                               f"beside it{more}; {len(orphans)} of {n_labelled + len(orphans)} photos are "
                               f"unlabelled, so the dataset is incomplete: {REFETCH}, or remove the photo")


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image  # noqa: PLC0415  (reads the header only)
    try:
        with Image.open(path) as im:
            return im.height, im.width
    except Exception as exc:
        raise DataCorruptError(f"{path}: unreadable image ({exc})") from exc


def layout_of(records: Sequence[ImmRecord]) -> Layout:
    """The :class:`Layout` (``imm58`` or ``frontal73``) of the records, from their point count."""
    return get_layout(len(records[0].points_rel))


def split_by_person(records: Sequence[ImmRecord], val_people: Sequence[int] | None = None
                    ) -> tuple[list[ImmRecord], list[ImmRecord]]:
    """``(train, val)`` with no person in both. Default: the course's split of the layout (IMM 1-32 / 33-40,
    Frontal 1-10 / 11-12); any other set of people gives its last sixth (at least one) to validation."""
    people = sorted({r.person for r in records})
    if val_people is None:
        split = SPLITS.get(layout_of(records).name)
        if split is not None and set(people) <= set(split[0]) | set(split[1]):
            val_people = list(split[1])
        else:
            val_people = people[-max(1, len(people) // 6):]
    val_set = set(val_people)
    train = [r for r in records if r.person not in val_set]
    val = [r for r in records if r.person in val_set]
    if not train or not val:
        raise ValueError(f"split by person left an empty side (people {people}, validation {sorted(val_set)})")
    return train, val


_CACHE: dict[tuple, np.ndarray] = {}


def load_gray(path: Path, size: tuple[int, int], frame: Sequence[int] | None = None) -> np.ndarray:
    """The image as grayscale float32 in [-0.5, 0.5] resized to ``size`` (H, W) (area averaging); cached. Read
    with :func:`cs180utils.readers.read_gray` (a truncated JPEG is refused, not decoded with grey rows; a good
    JPEG gives the pixels OpenCV's grayscale decoding gives).

    ``frame``: ``(x0, y0, w, h)`` whole pixels of the original, the part to resize (None: the whole image);
    a frame reaching past the border repeats the edge pixels there."""
    key = (str(path), tuple(size), None if frame is None else tuple(int(v) for v in frame))
    if key not in _CACHE:
        img = read_gray(path, what="IMM face")   # a truncated or corrupt photo: DataCorruptError naming it
        if frame is not None:
            img = crop_padded(img, *key[2])
        img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        _CACHE[key] = img.astype(np.float32) / 255.0 - 0.5
    return _CACHE[key]


def crop_padded(img: np.ndarray, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    """``img[y0:y0 + h, x0:x0 + w]`` of an (H, W) array, the part outside the image filled with its edge pixels."""
    if w < 1 or h < 1:
        raise ValueError(f"a frame needs a positive size, got {w}x{h}")
    H, W = img.shape[:2]
    pad = (max(0, -y0), max(0, y0 + h - H), max(0, -x0), max(0, x0 + w - W))   # top, bottom, left, right
    if any(pad):
        img = cv2.copyMakeBorder(img, *pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad[2], y0 + pad[0]
    return img[y0:y0 + h, x0:x0 + w]


MAX_HEIGHT_FILL = 0.9   # a zoom frame is at least this much taller than the keypoints' box: a long face keeps its chin


def zoom_frames(points_px: np.ndarray | torch.Tensor, fill: float, size: tuple[int, int]) -> np.ndarray:
    """Frames around faces for a second, closer look: ``(N, 4)`` int ``(x0, y0, w, h)`` in original pixels.

    Each frame is centred on the box of the face's keypoints ``points_px`` (N, K, 2), that box's width is
    ``fill`` of the frame's width (a box taller than the frame allows widens it until the box's height is
    :data:`MAX_HEIGHT_FILL` of the frame's), and the frame has the aspect of ``size`` (H, W), so a resize to
    ``size`` scales both axes alike."""
    if not 0 < fill <= 1:
        raise ValueError(f"fill is the fraction of the frame the keypoint box spans: in (0, 1], got {fill}")
    pts = np.asarray(points_px, dtype=np.float64)                                  # (N, K, 2)
    lo, hi = pts.min(1), pts.max(1)                                                # (N, 2)
    centre = (lo + hi) / 2
    box_w, box_h = (hi - lo).T
    w = np.maximum(np.rint(np.maximum(box_w / fill, box_h / MAX_HEIGHT_FILL * size[1] / size[0])), 2)
    h = np.maximum(np.rint(w * size[0] / size[1]), 2)
    x0, y0 = np.rint(centre[:, 0] - w / 2), np.rint(centre[:, 1] - h / 2)
    return np.stack([x0, y0, w, h], 1).astype(np.int64)


class ImmFaces(Dataset):
    """Faces for keypoint regression.

    Args:
        records: from :func:`read_imm_folder` / :func:`split_by_person`.
        size: (H, W) of the network input, e.g. (60, 80) for the nose, (120, 160) for all points.
        points: ``"all"``, ``"nose"`` (the layout's nose tip) or a list of indices.
        augment: a :class:`KeypointAugment` applied on the fly (training only), or None.
        frames: (N, 4) ``(x0, y0, w, h)`` whole pixels of each original image, the part resized to ``size``
            (e.g. :func:`zoom_frames`); None: the whole image.

    Item: ``(image (1, H, W) float32 in [-0.5, 0.5], keypoints (K, 2) float32)``: (x, y) continuous pixel
    coordinates of that image (it spans [0, W] x [0, H]; see :mod:`cs180utils.keypoints`).
    """

    def __init__(self, records: Sequence[ImmRecord], size: tuple[int, int] = (60, 80),
                 points: "str | Sequence[int]" = "all", augment: KeypointAugment | None = None,
                 frames: np.ndarray | None = None):
        if not records:
            raise ValueError("ImmFaces needs at least one record")
        self.records = list(records)
        self.size = tuple(size)
        self.layout = layout_of(self.records)
        if points == "all":
            self.indices = list(range(self.layout.n_points))
        elif points == "nose":
            self.indices = [self.layout.nose]
        else:
            self.indices = [int(i) for i in points]
        self.augment = augment
        whole = np.array([[0, 0, r.width, r.height] for r in self.records], dtype=np.int64)
        self.frames = whole if frames is None else np.asarray(frames, dtype=np.int64)   # (N, 4) x0, y0, w, h
        if self.frames.shape != (len(self.records), 4):
            raise ValueError(f"frames must be (N, 4) = ({len(self.records)}, 4) (x0, y0, w, h), "
                             f"got {self.frames.shape}")
        self.images = torch.from_numpy(np.stack([
            load_gray(r.image, self.size, None if frames is None else f)
            for r, f in zip(self.records, self.frames)]))[:, None]                 # (N, 1, H, W)
        original = torch.from_numpy(np.stack([r.points_px[self.indices] for r in self.records]))  # float64
        self.keypoints = self.to_input(original).float()                           # (N, K, 2) pixels of the input

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img, kp = self.images[i], self.keypoints[i]
        if self.augment is not None:
            img, kp = self.augment(img, kp)
        return img, kp

    @property
    def input_size(self) -> torch.Tensor:
        """(2,) float (W, H) of the network input: divide its pixel keypoints by it for [0, 1] fractions."""
        return torch.tensor([self.size[1], self.size[0]], dtype=torch.float32)

    @property
    def original_sizes(self) -> torch.Tensor:
        """(N, 2) float (W, H) of the original images."""
        return torch.tensor([[r.width, r.height] for r in self.records], dtype=torch.float32)

    def _frame(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 1, 2) top-left corners and (N, 1, 2) original pixels per input pixel of the frames."""
        f = torch.as_tensor(self.frames, dtype=dtype)
        return f[:, None, :2], (f[:, 2:] / self.input_size.to(dtype))[:, None, :]

    @property
    def eye_distance_px(self) -> np.ndarray:
        """(N,) outer-eye-corner distance of each face in original pixels: the NME normaliser (any ``points``)."""
        i, j = self.layout.eyes
        return np.array([np.linalg.norm(r.points_px[i] - r.points_px[j]) for r in self.records])

    def to_original(self, kp: torch.Tensor) -> torch.Tensor:
        """Keypoints (N, K, 2) of this dataset's N faces, pixels of the network input -> pixels of the original
        images (a scaling and the frame's offset: both are continuous coordinates)."""
        corner, per_pixel = self._frame(kp.dtype)
        return kp * per_pixel + corner

    def to_input(self, kp: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`to_original`: original-image pixels (N, K, 2) -> network-input pixels."""
        corner, per_pixel = self._frame(kp.dtype)
        return (kp - corner) / per_pixel
