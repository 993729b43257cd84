"""Read the course's files with clear errors: an ``.npz`` of arrays with the shapes it must have, an image.

    >>> load_npz(path, {"images_train": ("N", "H", "W", 3)})   # {key: array}, or DataCorruptError
    >>> read_image(path)                                        # (H, W, 3) uint8, or DataCorruptError
    >>> read_gray(path)                                         # (H, W) uint8, or DataCorruptError

The two errors every reader of the course library raises live here too: :class:`DataNotFoundError` (no such
file) and :class:`DataCorruptError` (a file that is not what it should be). Where a dataset is looked for,
downloaded and checked as a whole is the machinery's business (:mod:`cs180utils.machinery.data`).
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


class DataNotFoundError(FileNotFoundError):
    """A dataset could not be found nor downloaded; the message says where to put it and where to get it."""


class DataCorruptError(ValueError):
    """A dataset file exists but is not what it should be (missing keys, wrong shapes, unreadable)."""


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
NPZ_ERRORS = (OSError, ValueError, zipfile.BadZipFile, EOFError)   # what np.load raises for a broken file
IMAGE_ERRORS = (OSError, ValueError)                                 # PIL's UnidentifiedImageError is an OSError


Shape = tuple  # of int (exact), str (a named size that must agree across keys) or None (any)


def _open_npz(path: Path) -> np.lib.npyio.NpzFile:
    """``np.load`` of an ``.npz`` (lazy: arrays are read on access); raises one of NPZ_ERRORS otherwise."""
    z = np.load(path, allow_pickle=False)
    if not isinstance(z, np.lib.npyio.NpzFile):   # a bare .npy array
        raise ValueError(f"a single array of shape {getattr(z, 'shape', '?')}, not an .npz archive")
    return z


def _error(exc: BaseException, path: Path | None = None) -> str:
    """``"Type: message"``, without the file name PIL repeats (the caller names the file)."""
    text = str(exc).replace(f" {str(path)!r}", "") if path is not None else str(exc)
    return f"{type(exc).__name__}: {text}"


def _lacks(missing: list[str], present: list[str]) -> str:
    return f"lacks the keys {missing} (it has {sorted(present)})"


def _array(z: np.lib.npyio.NpzFile, key: str, path: Path, what: str) -> np.ndarray:
    """``z[key]``; an array of Python objects (pickled: numpy refuses it without ``allow_pickle``, which would let
    the file run code) is a :class:`DataCorruptError` saying so and what to do instead."""
    try:
        return z[key]
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise
        raise DataCorruptError(f"{what}: {path}[{key!r}] is an array of Python objects (pickled), which is not "
                               f"read: loading it could run code; save {key!r} as a numeric array (e.g. "
                               f"np.asarray(x, dtype=np.float32)) and pass that file") from None


def _existing_file(path: str | os.PathLike, what: str | None, expected: str) -> tuple[Path, str]:
    """``(path, what)`` for a file that exists (``what`` defaults to its name); DataNotFoundError for a missing
    path or a folder."""
    path = Path(path)
    what = what or path.name
    if path.is_dir():
        raise DataNotFoundError(f"{what}: {path} is a folder, expected {expected}")
    if not path.is_file():
        raise DataNotFoundError(f"{what}: {path} does not exist")
    return path, what


def load_npz(path: str | os.PathLike, required: dict[str, Shape | None], what: str | None = None,
             optional: dict[str, Shape | None] | None = None) -> dict:
    """Load the arrays ``required`` from an ``.npz`` and check their shapes.

    ``required`` maps key -> shape pattern, e.g. ``{"images_train": ("N", "H", "W", 3), "c2ws_train": ("N", 4, 4),
    "focal": ()}``: ints must match, equal strings must agree across keys, None matches anything (a None
    pattern only asks for the key).  ``optional`` keys are loaded and checked the same way when the file has
    them.  Returns ``{key: np.ndarray}``; raises :class:`DataCorruptError` for an unreadable file, missing keys
    or wrong shapes.
    """
    path, what = _existing_file(path, what, "an .npz file")
    try:
        with _open_npz(path) as z:
            missing = [k for k in required if k not in z.files]
            if missing:
                raise DataCorruptError(f"{what}: {path} {_lacks(missing, z.files)}")
            present = {**required, **{k: v for k, v in (optional or {}).items() if k in z.files}}
            out = {k: _array(z, k, path, what) for k in present}
    except DataCorruptError:
        raise
    except NPZ_ERRORS as exc:
        raise DataCorruptError(f"{what}: {path} is not a readable .npz ({_error(exc)}); "
                               f"delete it and download it again") from None
    sizes: dict[str, int] = {}
    for key, pattern in present.items():
        if pattern is None:
            continue
        shape = out[key].shape
        ok = len(shape) == len(pattern)
        for dim, want in zip(shape, pattern):
            if isinstance(want, int):
                ok &= dim == want
            elif isinstance(want, str):
                ok &= sizes.setdefault(want, dim) == dim
        if not ok:
            named = {d: sizes[d] for d in pattern if isinstance(d, str) and d in sizes}
            raise DataCorruptError(f"{what}: {path}[{key!r}] has shape {shape}, expected {tuple(pattern)}"
                                   + (f" with {named}" if named else ""))
    return out


MAX_PIXELS = 64_000_000   # larger images are refused before decoding (a 64 MP RGB image is 192 MB as uint8)


def _too_large(im: Image.Image) -> str | None:
    w, h = im.size
    if w * h > MAX_PIXELS:
        return (f"{w} x {h} pixels ({w * h / 1e6:.0f} megapixels), more than the {MAX_PIXELS / 1e6:.0f} megapixels "
                f"read (a decompression bomb, or a photo far larger than needed)")
    if w < 1 or h < 1:
        return f"{w} x {h} pixels (empty)"
    return None


def to_rgb8(im: Image.Image) -> np.ndarray:
    """An opened PIL image as ``(H, W, 3)`` uint8 RGB. 16- and 32-bit images are scaled to 8 bits (PIL's own
    ``convert`` clips them at 255: a 16-bit PNG would come out nearly white); palette, grey and alpha images
    are converted as PIL does."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(im).astype(np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
        g = np.clip(np.rint(a * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=-1)
    if im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        top = 1.0 if np.nanmax(a, initial=0) <= 1.0 else 255.0
        g = np.clip(np.rint(np.nan_to_num(a) * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=-1)
    return np.asarray(im.convert("RGB"))


def read_image(path: str | os.PathLike, what: str | None = None, min_side: int = 1) -> np.ndarray:
    """Read an image file as an ``(H, W, 3)`` uint8 array (RGB; 16-bit images scaled to 8 bits).

    Raises :class:`DataNotFoundError` for a missing path or a folder, :class:`DataCorruptError` for a file that
    does not decode (a truncated JPEG included), is larger than :data:`MAX_PIXELS` or has a side shorter than
    ``min_side`` pixels (both checked from the header, before decoding)."""
    return _read(path, what, gray=False, min_side=min_side)


def read_gray(path: str | os.PathLike, what: str | None = None, min_side: int = 1) -> np.ndarray:
    """Read an image file as an ``(H, W)`` uint8 grayscale array, with :func:`read_image`'s checks and errors.

    A JPEG's luma is decoded directly (the pixels libjpeg's grayscale decoding gives, as OpenCV's
    ``IMREAD_GRAYSCALE`` does); other images are converted from RGB with ITU-R 601-2's weights."""
    return _read(path, what, gray=True, min_side=min_side)


MIN_FACE_SIDE = 16   # pixels: a face photo smaller than this holds no face to learn from (a broken or placeholder file)


def _read(path: str | os.PathLike, what: str | None, gray: bool, min_side: int = 1) -> np.ndarray:
    path, what = _existing_file(path, what, "an image file (JPEG or PNG)")
    try:
        with Image.open(path) as im:
            big = _too_large(im)
            if big:
                raise DataCorruptError(f"{what}: {path} is {big}; downscale it (or crop it) and pass that")
            if min(im.size) < min_side:
                raise DataCorruptError(f"{what}: {path} is {im.width} x {im.height} pixels, too small (at least "
                                       f"{min_side} x {min_side}); pass a larger image")
            if not gray:
                return to_rgb8(im)
            if im.format == "JPEG" and im.mode in ("L", "RGB", "YCbCr"):
                im.draft("L", im.size)   # luma straight from the decoder, at full size
            if im.mode == "L":
                return np.asarray(im)
            return np.asarray(Image.fromarray(to_rgb8(im)).convert("L"))
    except DataCorruptError:   # ours, already one line (it is a ValueError too)
        raise
    except IMAGE_ERRORS as exc:
        raise DataCorruptError(f"{what}: {path} is not a readable image ({_error(exc, path)}); "
                               f"replace it with a JPEG or PNG") from None
    except Image.DecompressionBombError as exc:   # PIL's own limit, where it is lower than ours
        raise DataCorruptError(f"{what}: {path} is too large to read ({exc}); downscale it and pass that") from None
