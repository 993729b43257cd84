"""Read dataset files with clear errors, and check that a copy of a dataset is usable.

    >>> load_npz(path, {"images_train": ("N", "H", "W", 3)})   # {key: array}, or DataCorruptError
    >>> read_image(path)                                        # (H, W, 3) uint8, or DataCorruptError
    >>> problems(REGISTRY["lego"], path)                        # [] when usable, else what is wrong
    >>> check_dataset(REGISTRY["lego"], path)                   # path, or DataCorruptError saying what to do

:func:`problems` is THE content check: lookup (``locate`` skips a copy it refuses), ``data where`` (says why)
and downloads (a refused download never gets its final name) all use it.  It is cheap enough for every lookup:
an npz's keys are read from its zip directory without loading an array, and images are opened (their header
parsed), not decoded -- in a folder only the first, middle and last file of each expected kind.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from cs180utils.data.registry import DataCorruptError, DataNotFoundError, Dataset, where_to_put

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
NPZ_ERRORS = (OSError, ValueError, zipfile.BadZipFile, EOFError)   # what np.load raises for a broken file
IMAGE_ERRORS = (OSError, ValueError)                                 # PIL's UnidentifiedImageError is an OSError


# ---- reading files -----------------------------------------------------------------------------------------

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


def load_npz(path: str | os.PathLike, required: dict[str, Shape | None], what: str | None = None,
             optional: dict[str, Shape | None] | None = None) -> dict:
    """Load the arrays ``required`` from an ``.npz`` and check their shapes.

    ``required`` maps key -> shape pattern, e.g. ``{"images_train": ("N", "H", "W", 3), "c2ws_train": ("N", 4, 4),
    "focal": ()}``: ints must match, equal strings must agree across keys, None matches anything (a None
    pattern only asks for the key).  ``optional`` keys are loaded and checked the same way when the file has
    them.  Returns ``{key: np.ndarray}``; raises :class:`DataCorruptError` for an unreadable file, missing keys
    or wrong shapes.
    """
    path = Path(path)
    what = what or path.name
    if path.is_dir():
        raise DataNotFoundError(f"{what}: {path} is a folder, expected an .npz file")
    if not path.is_file():
        raise DataNotFoundError(f"{what}: {path} does not exist")
    try:
        with _open_npz(path) as z:
            missing = [k for k in required if k not in z.files]
            if missing:
                raise DataCorruptError(f"{what}: {path} {_lacks(missing, z.files)}")
            present = {**required, **{k: v for k, v in (optional or {}).items() if k in z.files}}
            out = {k: z[k] for k in present}
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


def read_image(path: str | os.PathLike, what: str | None = None) -> np.ndarray:
    """Read an image file as an ``(H, W, 3)`` uint8 array (RGB; 16-bit images scaled to 8 bits).

    Raises :class:`DataNotFoundError` for a missing path or a folder, :class:`DataCorruptError` for a file that
    does not decode or is larger than :data:`MAX_PIXELS` (checked from the header, before decoding)."""
    path = Path(path)
    what = what or path.name
    if path.is_dir():
        raise DataNotFoundError(f"{what}: {path} is a folder, expected an image file (JPEG or PNG)")
    if not path.is_file():
        raise DataNotFoundError(f"{what}: {path} does not exist")
    try:
        with Image.open(path) as im:
            big = _too_large(im)
            if big:
                raise DataCorruptError(f"{what}: {path} is {big}; downscale it (or crop it) and pass that")
            return to_rgb8(im)
    except IMAGE_ERRORS as exc:
        raise DataCorruptError(f"{what}: {path} is not a readable image ({_error(exc, path)}); "
                               f"replace it with a JPEG or PNG") from None
    except Image.DecompressionBombError as exc:   # PIL's own limit, where it is lower than ours
        raise DataCorruptError(f"{what}: {path} is too large to read ({exc}); downscale it and pass that") from None


# ---- the content check -------------------------------------------------------------------------------------

SAMPLE = 3   # files of each expected kind checked in a folder: the first, middle and last by name


def kind(ds: Dataset) -> str:
    """What a copy of ``ds`` is: ``"npz"``, ``"image"``, ``"folder"`` (an archive's contents) or ``"file"``.
    Judged by the canonical name, since a download is checked under a temporary one."""
    suffix = Path(ds.filenames[0]).suffix.lower()
    if suffix == ".npz" or ds.npz_keys:
        return "npz"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if ds.archive is not None or ds.expect or ds.expect_glob:
        return "folder"
    return "file"


def _file_problem(path: Path, as_kind: str, keys: tuple[str, ...] = ()) -> str | None:
    """What is wrong with one file (None: nothing found): empty; an npz without ``keys``; an image that
    does not open.  Reads the npz's zip directory and the image's header only."""
    if path.stat().st_size == 0:
        return "empty (0 bytes)"
    if as_kind == "npz":
        try:
            with _open_npz(path) as z:
                missing = [k for k in keys if k not in z.files]
                return _lacks(missing, z.files) if missing else None
        except NPZ_ERRORS as exc:
            return f"not a readable .npz ({_error(exc)})"
    if as_kind == "image":
        try:
            with Image.open(path) as im:
                return _too_large(im)
        except IMAGE_ERRORS as exc:
            return f"not a readable image ({_error(exc, path)})"
        except Image.DecompressionBombError as exc:
            return f"too large to read ({exc})"
    return None


def _sample(paths: list[Path]) -> list[Path]:
    """Up to SAMPLE of ``paths`` (sorted), spread evenly from the first to the last."""
    if len(paths) <= SAMPLE:
        return paths
    return [paths[round(i * (len(paths) - 1) / (SAMPLE - 1))] for i in range(SAMPLE)]


def problems(ds: Dataset, path: str | os.PathLike) -> list[str]:
    """What is wrong with the copy of dataset ``ds`` at ``path``; empty when it is usable.

    A file (npz or image): not empty, the npz holds ``ds.npz_keys``, the image opens.  A folder: the paths in
    ``ds.expect`` exist (and files among them are not empty), each ``(glob, n)`` of ``ds.expect_glob`` matches
    at least n files, and a sample of them (:data:`SAMPLE`) is not empty and, for images, opens.
    """
    path = Path(path)
    if not path.exists():
        return [f"{path} does not exist"]
    want = kind(ds)
    if want == "folder":
        if not path.is_dir():
            return ["a file, expected a folder"]
        found = []
        for e in ds.expect:
            p = path / e
            if not p.exists():
                found.append(f"{e} is missing")
            elif p.is_file() and p.stat().st_size == 0:
                found.append(f"{e} is empty (0 bytes)")
        for pattern, n in ds.expect_glob:
            matches = sorted(p for p in path.glob(pattern) if p.is_file())
            if len(matches) < n:
                found.append(f"{len(matches)} files match {pattern!r}, expected at least {n}")
                continue
            for p in _sample(matches):
                why = _file_problem(p, "image" if p.suffix.lower() in IMAGE_SUFFIXES else "file")
                if why:
                    found.append(f"{p.relative_to(path)}: {why}")
        return found
    if not path.is_file():
        return ["a folder, expected a file"]
    why = _file_problem(path, want, ds.npz_keys)
    return [why] if why else []


def check_dataset(ds: Dataset, path: str | os.PathLike, advice: bool = True) -> Path:
    """``path`` if :func:`problems` finds nothing wrong with it as dataset ``ds``; else :class:`DataCorruptError`
    naming what is wrong and (``advice``) what to do."""
    path = Path(path)
    found = problems(ds, path)
    if found:
        raise DataCorruptError(f"{ds.name}: {path} is not a usable copy: " + "; ".join(found)
                               + (f". Delete it and get it again: {where_to_put(ds)}" if advice else ""))
    return path
