"""iBUG 300-W faces: dlib XML and ``.pts`` readers, an XML writer, face crops and the way back.

    >>> faces = read_dlib_xml("labels_ibug_300W_test.xml")       # list[Face], images relative to the XML
    >>> crops = FaceCrops.from_faces(faces, size=128, margin=0.2)  # grayscale, keypoints carried through
    >>> crops.images.shape, crops.keypoints.shape                  # (N, 1, H, W) uint8, (N, K, 2) crop pixels
    >>> crops.to_original(pred_crop_px)                            # (N, K, 2) pixels of the original images

Keypoints and boxes follow the package's one convention, continuous pixel coordinates (see
:mod:`cs180utils.keypoints`). The files hold pixel *indices* (dlib's integers, 0-based; ``.pts``: 1-based), so
the readers add 0.5 (``.pts``: subtract 0.5) and the writer subtracts it again: a part at x = 10 reads as 10.5
and is written back as 10. dlib's box rectangles (pixels ``left .. left + width - 1``) already are the regions
``[left, left + width]`` of the convention, so boxes are read and written as they are. A crop maps the square
``[x0, x0 + side] x [y0, y0 + side]`` of the original onto ``[0, S] x [0, S]``, hence

    crop = (xy - (x0, y0)) * S / side          and back          xy = crop * side / S + (x0, y0)

which :class:`CropTransform` applies (the round trip is the identity).
"""
from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence
from xml.sax.saxutils import quoteattr

import numpy as np
import torch
from PIL import Image

from cs180utils.readers import MIN_FACE_SIDE, read_image

# 300-W 68-point conventions (0-based)
NUM_KEYPOINTS = 68
LEFT_EYE_OUTER, RIGHT_EYE_OUTER, NOSE_TIP = 36, 45, 30
# point i of the mirror image is point FLIP_300W[i] of the face (jaw 0-16 reversed, brows 17-21 <-> 26-22, nose
# bridge 27-30 and points 33, 51, 57, 62, 66, 8 on the midline stay, eyes 36-41 <-> 45-42, 47-46, mouth mirrored
# about 51 / 57 and 62 / 66): the mirror augmentation and the mirror-averaged prediction use it
FLIP_300W: tuple[int, ...] = (
    16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,          # jaw
    26, 25, 24, 23, 22, 21, 20, 19, 18, 17,                            # brows
    27, 28, 29, 30, 35, 34, 33, 32, 31,                                # nose
    45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,                    # eyes
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,                    # outer lips
    64, 63, 62, 61, 60, 67, 66, 65)                                    # inner lips


@dataclass
class Face:
    """One annotated face: the image file, its face box and its keypoints in original-image pixels."""
    image: Path                        # absolute path of the image file
    box: tuple[float, float, float, float]  # (left, top, width, height) in pixels
    keypoints: np.ndarray              # (K, 2) float, (x, y) continuous pixels; NaN where a part is missing
    meta: dict = field(default_factory=dict)  # anything else read from the file (e.g. the XML's name)

    @property
    def num_keypoints(self) -> int:
        return int(self.keypoints.shape[0])


# ---- readers and writer ---------------------------------------------------------------------------------

def _check_box(path: Path, rel: str, box: tuple[float, float, float, float], named: dict, k: int,
               partial: bool) -> None:
    """Refuse a face that would train or score wrongly: a non-finite or empty box, a non-finite part, parts
    missing from a labelled box (unless ``partial``), a part far (more than the box's side) outside its box."""
    where = f"{path}: image {rel!r}, box (left, top, width, height) = {tuple(box)}"
    left, top, width, height = box
    if not all(math.isfinite(v) for v in box) or not (width > 0 and height > 0):
        raise ValueError(f"{where} is empty or not finite; fix the box, or mark it ignore='1'")
    bad = [i for i, xy in named.items() if not all(math.isfinite(v) for v in xy)]
    if bad:
        raise ValueError(f"{where}: part {bad[0]:02d} has a non-finite coordinate {named[bad[0]]}; fix the part")
    missing = [i for i in range(k) if i not in named]
    if missing and not partial:
        shown = ", ".join(f"{i:02d}" for i in missing[:8]) + (" ..." if len(missing) > 8 else "")
        raise ValueError(f"{where} has {len(named)} of its {k} parts (missing: {shown}); label every part, or "
                         f"remove the box's parts to keep it as a box without labels")
    side = max(width, height)
    for i, (x, y) in named.items():
        if not (left - side <= x <= left + width + side and top - side <= y <= top + height + side):
            raise ValueError(f"{where}: part {i:02d} at ({x:g}, {y:g}) lies far outside its box (more than the box's "
                             f"side away); fix the part or the box")


def read_dlib_xml(path: str | os.PathLike, num_keypoints: int | None = NUM_KEYPOINTS,
                  partial: bool = False) -> list[Face]:
    """Read a dlib imglab XML file (the format of ``labels_ibug_300W_{train,test}.xml``).

    Each ``<image file=...>`` may hold several ``<box top left width height>``; each box with ``<part name x y>``
    children is one :class:`Face`. Image paths are relative to the XML file. Boxes marked ``ignore='1'`` and
    boxes without parts are skipped. ``num_keypoints`` (default 68) is checked; pass None to accept any.
    Parts are pixel indices in the file and pixel centres here: ``x='10'`` reads as 10.5.

    Every labelled box is checked: a finite box of positive size, finite parts, every part present (``partial``:
    missing parts become NaN instead), no part more than the box's side outside the box.

    Raises FileNotFoundError / ValueError with the file and the element at fault.
    """
    path = Path(path)
    images = _images_element(path, "pass the labels file of the iBUG 300-W set (labels_ibug_300W_train.xml) or "
                                   "any file in the dlib imglab format")
    faces: list[Face] = []
    for rel, box in _boxes(path, images):
        parts = box.findall("part")
        if not parts:
            continue
        try:
            left, top = float(box.get("left")), float(box.get("top"))
            width, height = float(box.get("width")), float(box.get("height"))
            named = {int(p.get("name")): (float(p.get("x")), float(p.get("y"))) for p in parts}
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: box or part of image {rel!r} has a missing or non-numeric "
                             f"attribute ({exc})") from exc
        k = max(named) + 1 if num_keypoints is None else num_keypoints
        if max(named) >= k:
            raise ValueError(f"{path}: image {rel!r} has part {max(named)}, more than the {k} keypoints "
                             f"expected; pass num_keypoints=None to read other layouts")
        _check_box(path, rel, (left, top, width, height), named, k, partial)
        kps = np.full((k, 2), np.nan, dtype=np.float32)
        for i, (x, y) in named.items():
            kps[i] = (x + 0.5, y + 0.5)                              # index -> the pixel's centre
        faces.append(Face(image=(path.parent / rel).resolve(), box=(left, top, width, height),
                          keypoints=kps, meta={"file": rel}))
    if not faces:
        raise ValueError(f"{path}: no annotated faces found (no <box> with <part> elements)")
    return faces


def read_pts(path: str | os.PathLike, image: str | os.PathLike | None = None) -> Face:
    """Read a 300-W ``.pts`` file (``version: 1 / n_points: 68 / { x y ... }``, 1-based Matlab pixels).

    The 1-based points (Matlab: the centre of pixel 1 is at 1) become continuous pixels, ``x - 0.5``; the box is
    their tight bounding box; the image is ``image`` or the ``.jpg``/``.png`` next to the file with the same stem.
    """
    path = Path(path)
    text = path.read_text().split("{", 1)
    header = dict(line.split(":", 1) for line in text[0].strip().splitlines() if ":" in line)
    try:
        n = int(header["n_points"])
        values = text[1].split("}", 1)[0].split()
        kps = np.asarray(values, dtype=np.float32).reshape(n, 2) - 0.5      # 1-based centres -> continuous
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"{path} is not a 300-W .pts file (n_points header and '{{ x y ... }}' block); "
                         f"{type(exc).__name__}: {exc}") from exc
    if image is None:
        candidates = [path.with_suffix(s) for s in (".jpg", ".png", ".jpeg")]
        image = next((c for c in candidates if c.exists()), candidates[0])
    return Face(image=Path(image).resolve(), box=tight_box(kps), keypoints=kps, meta={"file": path.name})


def tight_box(keypoints: np.ndarray) -> tuple[float, float, float, float]:
    """(left, top, width, height) of the points' bounding box (the 300-W set's face boxes are about these)."""
    lo, hi = np.nanmin(keypoints, axis=0), np.nanmax(keypoints, axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])


def write_dlib_xml(path: str | os.PathLike, faces: Sequence[Face], name: str = "faces") -> Path:
    """Write faces to a dlib imglab XML file (images relative to it; integer pixels, as dlib writes them).

    Keypoints go back to pixel indices (``x - 0.5``, rounded: 10.5 is written as 10); boxes are rounded.
    Faces of the same image are grouped under one ``<image>``. Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    by_image: dict[str, list[Face]] = {}
    for f in faces:
        rel = os.path.relpath(Path(f.image).resolve(), path.parent.resolve()).replace(os.sep, "/")
        by_image.setdefault(rel, []).append(f)
    lines = ["<?xml version='1.0' encoding='ISO-8859-1'?>", "<dataset>", f"<name>{_esc(name)}</name>", "<images>"]
    for rel, group in by_image.items():
        lines.append(f"  <image file={quoteattr(rel)}>")
        for f in group:
            left, top, width, height = (int(round(v)) for v in f.box)
            lines.append(f"    <box top='{top}' left='{left}' width='{width}' height='{height}'>")
            for i, (x, y) in enumerate(np.asarray(f.keypoints)):
                if np.isfinite(x) and np.isfinite(y):
                    lines.append(f"      <part name='{i:02d}' x='{int(round(x - 0.5))}' y='{int(round(y - 0.5))}'/>")
            lines.append("    </box>")
        lines.append("  </image>")
    lines += ["</images>", "</dataset>", ""]
    path.write_text("\n".join(lines), encoding="ISO-8859-1")
    return path


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def read_dlib_boxes(path: str | os.PathLike, num_keypoints: int = NUM_KEYPOINTS) -> list[Face]:
    """Every face box of a dlib imglab XML, with or without ``<part>``s: the faces to predict, e.g. the 300-W
    Kaggle test file (``labels_ibug_300W_test_parsed.xml``), whose boxes have no parts.

    One :class:`Face` per ``<box>`` not marked ``ignore='1'``, in file order (image by image, box by box within
    an image), its keypoints (``num_keypoints``, 2) all NaN: parts, where present, are not read (use
    :func:`read_dlib_xml` for labelled faces). Image paths are relative to the XML file.

    Raises FileNotFoundError / ValueError naming the file and the element at fault.
    """
    path = Path(path)
    images = _images_element(path, "pass the file of face boxes to predict (e.g. the Kaggle test file "
                                   "labels_ibug_300W_test_parsed.xml)")
    faces: list[Face] = []
    for rel, box in _boxes(path, images):
        try:
            left, top, width, height = (float(box.get(k)) for k in ("left", "top", "width", "height"))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: a box of image {rel!r} has a missing or non-numeric left/top/width/"
                             f"height ({exc})") from exc
        if not (width > 0 and height > 0):
            raise ValueError(f"{path}: a box of image {rel!r} has width {width:g} and height {height:g}; "
                             f"a face box needs a positive size")
        faces.append(Face(image=(path.parent / rel).resolve(), box=(left, top, width, height),
                          keypoints=np.full((num_keypoints, 2), np.nan, dtype=np.float32),
                          meta={"file": rel}))
    if not faces:
        raise ValueError(f"{path}: no face boxes found (no <box> elements that are not ignore='1')")
    return faces


# ---- crops ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CropTransform:
    """Maps original-image pixels to crop pixels and back (see the module docstring)."""
    x0: float      # left edge of the crop square in the original
    y0: float      # top edge
    scale: float   # crop pixels per original pixel (S / side)

    def to_crop(self, xy: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """(..., 2) original pixels -> crop pixels."""
        off = xy.new_tensor([self.x0, self.y0]) if torch.is_tensor(xy) else np.array([self.x0, self.y0])
        return (xy - off) * self.scale

    def to_original(self, xy: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """(..., 2) crop pixels -> original pixels."""
        off = xy.new_tensor([self.x0, self.y0]) if torch.is_tensor(xy) else np.array([self.x0, self.y0])
        return xy / self.scale + off

    def as_array(self) -> np.ndarray:
        return np.array([self.x0, self.y0, self.scale], dtype=np.float64)


def crop_square(box: tuple[float, float, float, float], margin: float) -> tuple[float, float, float]:
    """The square around a (left, top, width, height) box: centred on it, side = max(w, h) * (1 + 2 margin).

    Returns (x0, y0, side) of the square ``[x0, x0 + side] x [y0, y0 + side]``.
    """
    left, top, width, height = box
    cx, cy = left + width / 2, top + height / 2
    side = max(width, height) * (1 + 2 * margin)
    return cx - side / 2, cy - side / 2, side


def crop_face(image: Image.Image | np.ndarray, box: tuple[float, float, float, float], size: int | tuple[int, int],
              margin: float = 0.2, keypoints: np.ndarray | None = None):
    """Crop the square around ``box`` (with ``margin``), resize to ``size`` and make it grayscale.

    Args:
        image: PIL image or (H, W[, 3]) uint8 array.
        box: (left, top, width, height) in pixels of ``image``.
        size: output side S (int; the crop is square).
        margin: fraction of the box's larger side added on each side (0.2 -> side = 1.4 x box).
        keypoints: optional (K, 2) pixels, carried into the crop.
    Returns:
        crop (S, S) uint8, keypoints (K, 2) float32 in crop pixels (or None), :class:`CropTransform`.
    Parts of the square outside the image are black.
    """
    if isinstance(size, (tuple, list)):
        if size[0] != size[1]:
            raise ValueError(f"crops are square; got size={size}")
        size = size[0]
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    gray = image.convert("L")
    x0, y0, side = crop_square(box, margin)
    ix0, iy0 = math.floor(x0), math.floor(y0)
    ix1, iy1 = math.ceil(x0 + side), math.ceil(y0 + side)
    region = gray.crop((ix0, iy0, ix1, iy1))  # PIL pads outside the image with 0
    crop = region.resize((size, size), Image.Resampling.BILINEAR,
                         box=(x0 - ix0, y0 - iy0, x0 - ix0 + side, y0 - iy0 + side))
    tf = CropTransform(x0, y0, size / side)
    kps = None if keypoints is None else tf.to_crop(np.asarray(keypoints, dtype=np.float64)).astype(np.float32)
    return np.asarray(crop, dtype=np.uint8), kps, tf


def load_image(path: str | os.PathLike) -> Image.Image:
    """Open an image file with an error that says which face's file is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} does not exist; the XML's image paths are relative to the XML "
                                f"file, so keep the images next to it (e.g. lfpw/trainset/...)")
    # the one image reader: 16-bit images scaled, huge ones refused before decoding, a clear error otherwise
    return Image.fromarray(read_image(path, what="face image", min_side=MIN_FACE_SIDE))


@dataclass
class FaceCrops:
    """Grayscale face crops of a list of faces, all in memory (705 crops of 128^2 are 11 MB).

    images: (N, 1, S, S) uint8; keypoints: (N, K, 2) float32 crop pixels; transforms: (N, 3) float64
    rows (x0, y0, scale) of each crop's :class:`CropTransform`.
    """
    images: torch.Tensor
    keypoints: torch.Tensor
    transforms: np.ndarray
    faces: list[Face]
    size: int
    margin: float

    @classmethod
    def from_faces(cls, faces: Sequence[Face], size: int = 128, margin: float = 0.2,
                   boxes: Sequence[tuple[float, float, float, float]] | None = None) -> "FaceCrops":
        """Crop every face (by its own box, or by ``boxes[i]`` if given, e.g. a detector's)."""
        imgs, kps, tfs = [], [], []
        cache: dict[Path, Image.Image] = {}
        for i, f in enumerate(faces):
            if f.image not in cache:
                cache.clear()  # faces of one image are adjacent in the XML files
                cache[f.image] = load_image(f.image)
            crop, k, tf = crop_face(cache[f.image], boxes[i] if boxes is not None else f.box, size, margin,
                                    f.keypoints)
            imgs.append(crop)
            kps.append(k)
            tfs.append(tf.as_array())
        return cls(images=torch.from_numpy(np.stack(imgs))[:, None], keypoints=torch.from_numpy(np.stack(kps)),
                   transforms=np.stack(tfs), faces=list(faces), size=size, margin=margin)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def transform(self, i: int) -> CropTransform:
        return CropTransform(*self.transforms[i])

    def to_original(self, xy: torch.Tensor | np.ndarray, index: Sequence[int] | None = None) -> np.ndarray:
        """(N, K, 2) crop pixels of crops ``index`` (default all) -> (N, K, 2) original pixels."""
        xy = xy.detach().cpu().numpy() if torch.is_tensor(xy) else np.asarray(xy)
        t = self.transforms if index is None else self.transforms[np.asarray(index)]
        return xy / t[:, None, 2:3] + t[:, None, 0:2]

    def original_keypoints(self) -> np.ndarray:
        """(N, K, 2) the annotated keypoints in original pixels."""
        return np.stack([f.keypoints for f in self.faces])


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 crops (..., H, W) -> float in [-0.5, 0.5] (the keypoint notebooks' input range)."""
    return images.float() / 255.0 - 0.5


class FaceDataset(torch.utils.data.Dataset):
    """(image (1, S, S) float in [-0.5, 0.5], keypoints (K, 2) crop pixels) pairs from :class:`FaceCrops`.

    ``augment`` (optional) is called as ``augment(image, keypoints) -> (image, keypoints)`` on each sample,
    e.g. the torchvision-v2 pipeline of :mod:`cs180utils.keypoints.augment`.
    """

    def __init__(self, crops: FaceCrops, augment=None):
        self.crops = crops
        self.augment = augment

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, i: int):
        img = to_float(self.crops.images[i])
        kps = self.crops.keypoints[i].clone()
        if self.augment is not None:
            img, kps = self.augment(img, kps)
        return img, kps


def _images_element(path: Path, what_to_pass: str) -> ET.Element:
    """The ``<images>`` element of the dlib XML file ``path``; FileNotFoundError / ValueError naming the file."""
    if path.is_dir():
        raise FileNotFoundError(f"{path} is a folder, expected a dlib XML file: {what_to_pass}")
    if not path.is_file():
        raise FileNotFoundError(f"dlib XML {path} does not exist; {what_to_pass}")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{path} is not valid XML ({exc}); is it a dlib imglab file?") from exc
    images = root.find("images")
    if images is None:
        raise ValueError(f"{path} has no <images> element; expected the dlib imglab format "
                         f"<dataset><images><image file=...><box ...>[<part .../>]</box></image></images></dataset>")
    return images


def _boxes(path: Path, images: ET.Element):
    """``(image file relative to the XML, <box>)`` for every box not marked ``ignore='1'``, in file order."""
    for img in images.iter("image"):
        rel = img.get("file")
        if rel is None:
            raise ValueError(f"{path}: an <image> element has no file attribute")
        for box in img.iter("box"):
            if box.get("ignore", "0") != "1":
                yield rel, box
