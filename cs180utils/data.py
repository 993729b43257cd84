"""Find the workbook's datasets by name: explicit path -> $CS180_DATA_DIR -> data/ -> download -> clear error.

    >>> from cs180utils import data
    >>> data.locate("lego")            # Path or None, never downloads
    >>> data.resolve("lego")           # Path, downloading into data/ if needed, else DataNotFoundError
    >>> data.find_or_notice("lego")    # Path or None; prints once how to get the real data when missing

Names: ``lego`` (lego_200x200.npz), ``imm`` (IMM Face Database folder; the IMM Frontal Face DB is accepted
too), ``ibug300w`` (iBUG 300-W large landmark set folder with the dlib XML files), ``fox`` (the course's photo).
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cs180utils import config


class DataNotFoundError(FileNotFoundError):
    """A dataset could not be found nor downloaded; the message says where to put it and where to get it."""


class DataCorruptError(ValueError):
    """A dataset file exists but is not what it should be (missing keys, wrong shapes, unreadable)."""


@dataclass(frozen=True)
class Dataset:
    name: str                 # registry key
    filenames: tuple[str, ...]  # accepted names under a data folder, first is canonical (a file or a folder)
    url: str                  # where the official copy is downloaded from
    archive: str | None       # archive type of the download ("zip", "tar.gz") or None for a plain file
    sha256: str | None        # of the downloaded file, where known
    expect: tuple[str, ...] = field(default=())  # paths (relative to the dataset path) that must exist
    description: str = ""     # one line: what it is
    licence: str = ""         # licence and citation, shown in data/README.md


REGISTRY: dict[str, Dataset] = {
    "lego": Dataset(
        name="lego", filenames=("lego_200x200.npz",),
        url="https://cal-cs180.github.io/fa23/hw/proj5/assets/lego_200x200.npz",
        archive=None, sha256=None,
        description="NeRF-synthetic lego scene at 200x200 (course file: images/c2ws train/val, c2ws_test, focal)",
        licence="Scene 'lego' by Heinzelnisse, CC-BY-NC; NeRF (Mildenhall et al., ECCV 2020)"),
    "imm": Dataset(
        name="imm", filenames=("imm_face_db", "imm_frontal_face_db"),
        url="https://web.archive.org/web/2019/http://www2.imm.dtu.dk/~aam/datasets/imm_face_db.zip",
        archive="zip", sha256=None,
        description="IMM Face Database: 240 images of 40 people, 58 points per face in .asf files",
        licence="M. B. Stegmann et al., The IMM Face Database, DTU 2004; research and education"),
    "ibug300w": Dataset(
        name="ibug300w", filenames=("ibug_300W_large_face_landmark_dataset",),
        url="http://dlib.net/files/data/ibug_300W_large_face_landmark_dataset.tar.gz",
        archive="tar.gz", sha256=None,
        expect=("labels_ibug_300W_train.xml", "labels_ibug_300W_test.xml"),
        description="iBUG 300-W large face landmark set, 68 points, dlib XML labels",
        licence="C. Sagonas et al., 300 Faces in-the-Wild Challenge, ICCV-W 2013; research use only"),
    "fox": Dataset(
        name="fox", filenames=("fox.jpg",),
        url="https://cal-cs180.github.io/fa23/hw/proj5/assets/fox.jpg",
        archive=None, sha256=None,
        description="the course's fox photo for the 2D neural field",
        licence="course material"),
}


def _get(name: str) -> Dataset:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(REGISTRY)}") from None


def search_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched, in order: ``data_dir``, ``$CS180_DATA_DIR``, the project's ``data/`` cache."""
    dirs = [Path(data_dir)] if data_dir else []
    if os.environ.get("CS180_DATA_DIR"):
        dirs.append(Path(os.environ["CS180_DATA_DIR"]))
    dirs.append(config.data_dir())
    return dirs


def locate(name: str, path: str | os.PathLike | None = None,
           data_dir: str | os.PathLike | None = None) -> Path | None:
    """The dataset's path if it is present (explicit ``path`` first), else None. Never downloads.

    An explicit ``path`` that does not exist raises :class:`DataNotFoundError` (a typo should not silently
    fall back to something else).
    """
    ds = _get(name)
    if path is not None:
        p = Path(path).expanduser()
        if not p.exists():
            raise DataNotFoundError(f"{name}: {p} does not exist. {how_to_get(name)}")
        return p
    for d in search_dirs(data_dir):
        for fn in ds.filenames:
            p = d / fn
            if p.exists() and all((p / e).exists() for e in ds.expect):
                return p
    return None


def how_to_get(name: str) -> str:
    ds = _get(name)
    where = " or ".join(str(d / ds.filenames[0]) for d in search_dirs())
    return (f"Put {ds.filenames[0]} at {where} (or set CS180_DATA_DIR to the folder that holds it); "
            f"official copy: {ds.url}  (python -m cs180utils data fetch {name})")


def resolve(name: str, path: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
            download: bool = True) -> Path:
    """The dataset's path: found locally, else downloaded into ``data/``, else :class:`DataNotFoundError`."""
    found = locate(name, path, data_dir)
    if found is not None:
        return found
    if download and os.environ.get("CS180_OFFLINE", "") in ("", "0"):
        from cs180utils import download as dl  # noqa: PLC0415  (network code only when needed)
        return dl.fetch(name)
    raise DataNotFoundError(f"{name}: not found and downloads are off. {how_to_get(name)}")


_NOTICED: set[str] = set()


def find_or_notice(name: str, path: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
                   download: bool = False, fallback: str = "a generated stand-in") -> Path | None:
    """Like :func:`resolve` but returns None when the data cannot be had, printing once (per name and
    process) that real data was not found, how to get it, and that ``fallback`` is used instead."""
    try:
        return resolve(name, path, data_dir, download=download)
    except DataNotFoundError as exc:
        if name not in _NOTICED:
            _NOTICED.add(name)
            print(f"NOTICE: real data '{name}' not found; using {fallback}. {exc}", file=sys.stderr)
        return None


# ---- command line: python -m cs180utils data fetch|where -------------------------------------------------

def add_arguments(parser, command: str) -> None:
    if command == "data fetch":
        parser.add_argument("names", nargs="+", choices=sorted(REGISTRY), help="datasets to download")


def run(args, command: str) -> dict:
    if command == "data fetch":
        return {name: str(resolve(name, data_dir=args.data_dir)) for name in args.names}
    out = {}
    for name in REGISTRY:
        p = locate(name, data_dir=args.data_dir)
        out[name] = str(p) if p else None
    return out
