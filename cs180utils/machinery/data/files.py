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
from pathlib import Path

from PIL import Image

from cs180utils.machinery.data.registry import DataCorruptError, DataNotFoundError, Dataset, where_to_put
from cs180utils.readers import (IMAGE_ERRORS, IMAGE_SUFFIXES, NPZ_ERRORS, MAX_PIXELS, Shape, _error, _open_npz,  # noqa: F401
                                _lacks, _too_large, load_npz, read_image, to_rgb8)

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
