"""Find the workbook's datasets by name: explicit path -> $CS180_DATA_DIR -> data/ -> download -> clear error.

    >>> from cs180utils import data
    >>> data.locate("lego")            # Path or None, never downloads
    >>> data.resolve("lego")           # Path, downloading into data/ if needed, else DataNotFoundError
    >>> data.find_or_notice("lego")    # Path or None; prints once how to get the real data when missing
    >>> data.load_npz(path, {"images_train": ("N", "H", "W", 3)})   # arrays, or DataCorruptError
    >>> data.read_image(path)          # (H, W, 3) uint8, or DataCorruptError

Names: ``lego`` (lego_200x200.npz), ``imm`` (IMM Face Database folder; the IMM Frontal Face DB is accepted
too), ``ibug300w`` (iBUG 300-W large landmark set folder with the dlib XML files), ``fox`` (the course's photo).
Sources, licences and citations: ``data/README.md``.  Downloads: :mod:`cs180utils.download`.
"""
from __future__ import annotations

import os
import sys
import zipfile
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
    sha256: str | None        # of the downloaded file, where known (None: no published digest to pin)
    expect: tuple[str, ...] = field(default=())  # paths (relative to the dataset path) that must exist
    description: str = ""     # one line: what it is
    licence: str = ""         # licence and citation, shown in data/README.md
    mirrors: tuple[str, ...] = field(default=())  # further URLs tried in order when `url` fails
    size: int | None = None   # bytes of the download, where known
    archive_name: str | None = None  # file name the archive is saved under (default: the URL's last part)
    expect_glob: tuple[tuple[str, int], ...] = field(default=())  # (glob, at least n matches) in the folder
    npz_keys: tuple[str, ...] = field(default=())  # keys an .npz dataset must hold


# Every URL below was checked against public references (see data/README.md); none of these files has a
# published checksum, so sha256 is None and the download is verified by its contents instead (the keys of
# the npz, a decodable image, the .asf/.jpg files or XMLs an archive must hold).
REGISTRY: dict[str, Dataset] = {
    "lego": Dataset(
        name="lego", filenames=("lego_200x200.npz",),
        url="https://inst.eecs.berkeley.edu/~cs180/fa23/hw/proj5/assets/lego_200x200.npz",
        mirrors=("https://cal-cs180.github.io/fa23/hw/proj5/assets/lego_200x200.npz",),
        archive=None, sha256=None,
        npz_keys=("images_train", "c2ws_train", "images_val", "c2ws_val", "c2ws_test", "focal"),
        description="NeRF-synthetic lego scene at 200x200 (course file: images/c2ws train/val, c2ws_test, focal)",
        licence="Scene 'lego' by Heinzelnisse (BlendSwap), CC-BY-NC; NeRF (Mildenhall et al., ECCV 2020)"),
    "imm": Dataset(
        name="imm", filenames=("imm_face_db", "imm_frontal_face_db"),
        url="https://web.archive.org/web/20070613160541/https://www2.imm.dtu.dk/~aam/datasets/imm_face_db.zip",
        mirrors=("http://datasets.openimaj.org/imm_face_db.zip",
                 "http://www2.imm.dtu.dk/~aam/datasets/imm_face_db.zip"),
        archive="zip", sha256=None, archive_name="imm_face_db.zip",
        expect_glob=(("*.asf", 100), ("*.jpg", 100)),
        description="IMM Face Database: 240 images of 40 people, 58 points per face in .asf files",
        licence="M. B. Stegmann et al., The IMM Face Database, DTU 2004; research and education"),
    "ibug300w": Dataset(
        name="ibug300w", filenames=("ibug_300W_large_face_landmark_dataset",),
        url="http://dlib.net/files/data/ibug_300W_large_face_landmark_dataset.tar.gz",
        archive="tar.gz", sha256=None,
        expect=("labels_ibug_300W_train.xml", "labels_ibug_300W_test.xml", "lfpw"),
        description="iBUG 300-W large face landmark set, 68 points, dlib XML labels",
        licence="C. Sagonas et al., 300 Faces in-the-Wild Challenge, ICCV-W 2013; research use only"),
    "fox": Dataset(
        name="fox", filenames=("fox.jpg",),
        url="https://inst.eecs.berkeley.edu/~cs180/fa23/hw/proj5/assets/fox.jpg",
        mirrors=("https://live.staticflickr.com/7492/15677707699_d9d67acf9d_b.jpg",),
        archive=None, sha256=None,
        description="the course's fox photo for the 2D neural field",
        licence="course material; the photo is the Flickr fox used by Tancik et al., Fourier Features (2020)"),
}


def _get(name: str) -> Dataset:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(REGISTRY)}") from None


def search_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched, in order: ``data_dir``, ``$CS180_DATA_DIR``, the project's ``data/`` cache."""
    dirs = [Path(data_dir).expanduser()] if data_dir else []
    if os.environ.get("CS180_DATA_DIR"):
        env = Path(os.environ["CS180_DATA_DIR"]).expanduser()
        # a relative $CS180_DATA_DIR (CI: ../shared/data) means relative to where it was set; notebooks run in
        # notebooks/, so fall back to reading it relative to the repository root
        if not env.is_absolute() and not env.is_dir() and (config.REPO_ROOT / env).is_dir():
            env = config.REPO_ROOT / env
        dirs.append(env)
    dirs.append(config.data_dir())
    return dirs


def problems(ds: Dataset, path: Path) -> list[str]:
    """Cheap structural checks of a dataset at ``path`` (files that must exist, relative to it); empty when
    it looks complete."""
    if not path.exists():
        return [f"{path} does not exist"]
    found = []
    for e in ds.expect:
        if not (path / e).exists():
            found.append(f"{e} is missing")
    for pattern, n in ds.expect_glob:
        k = sum(1 for _ in path.glob(pattern)) if path.is_dir() else 0
        if k < n:
            found.append(f"{k} files match {pattern!r}, expected at least {n}")
    return found


def check_dataset(ds: Dataset, path: str | os.PathLike, advice: bool = True) -> Path:
    """Check that ``path`` really is dataset ``ds`` (expected files; npz keys; a decodable image).

    Returns ``path``; raises :class:`DataCorruptError` naming what is wrong and (``advice``) what to do.
    """
    path = Path(path)
    found = problems(ds, path)
    kind = Path(ds.filenames[0]).suffix.lower()   # by the canonical name: a download has a temporary one
    if not found and path.is_file():
        try:
            if ds.npz_keys or kind == ".npz":
                load_npz(path, {k: None for k in ds.npz_keys}, what=ds.name)
            elif kind in (".jpg", ".jpeg", ".png"):
                read_image(path, what=ds.name)
        except DataCorruptError as exc:
            found.append(str(exc))
    if found:
        raise DataCorruptError(f"{ds.name}: {path} is not a usable copy: " + "; ".join(found)
                               + (f". Delete it and get it again: {_how_to_get(ds)}" if advice else ""))
    return path


def locate(name: str, path: str | os.PathLike | None = None,
           data_dir: str | os.PathLike | None = None) -> Path | None:
    """The dataset's path if it is present (explicit ``path`` first), else None. Never downloads.

    An explicit ``path`` that does not exist raises :class:`DataNotFoundError` (a typo should not silently
    fall back to something else).  A folder missing the files the dataset must hold is skipped
    (``python -m cs180utils data where`` says why).
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
            if p.exists() and not problems(ds, p):
                return p
    return None


def _how_to_get(ds: Dataset, data_dir: str | os.PathLike | None = None) -> str:
    where = " or ".join(str(d / ds.filenames[0]) for d in search_dirs(data_dir))
    also = f" (or {', '.join(ds.filenames[1:])})" if len(ds.filenames) > 1 else ""
    return (f"Put {ds.filenames[0]}{also} at {where} (or set CS180_DATA_DIR to the folder that holds it); "
            f"official copy: {ds.url}  (python -m cs180utils data fetch {ds.name})")


def how_to_get(name: str) -> str:
    """One sentence: where to put dataset ``name`` and where to download it."""
    return _how_to_get(_get(name))


def resolve(name: str, path: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
            download: bool = True) -> Path:
    """The dataset's path: found locally, else downloaded into ``data/``, else :class:`DataNotFoundError`.

    Downloads are skipped when ``download`` is False or ``CS180_OFFLINE=1``.
    """
    found = locate(name, path, data_dir)
    if found is not None:
        return found
    if download and os.environ.get("CS180_OFFLINE", "") in ("", "0"):
        from cs180utils import download as dl  # noqa: PLC0415  (network code only when needed)
        return dl.fetch(name, data_dir)
    why = "downloads are off" if not download else "downloads are disabled (CS180_OFFLINE is set)"
    raise DataNotFoundError(f"{name}: not found and {why}. {how_to_get(name)}")


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


# ---- reading files with clear errors ---------------------------------------------------------------------

Shape = tuple  # of int (exact), str (a named size that must agree across keys) or None (any)


def load_npz(path: str | os.PathLike, required: dict[str, Shape | None], what: str | None = None,
             optional: dict[str, Shape | None] | None = None) -> dict:
    """Load the arrays ``required`` from an ``.npz`` and check their shapes.

    ``required`` maps key -> shape pattern, e.g. ``{"images_train": ("N", "H", "W", 3), "c2ws_train": ("N", 4, 4),
    "focal": ()}``: ints must match, equal strings must agree across keys, None matches anything (a None
    pattern only asks for the key).  ``optional`` keys are loaded and checked the same way when the file has
    them.  Returns ``{key: np.ndarray}``; raises :class:`DataCorruptError` for an unreadable file, missing keys
    or wrong shapes.
    """
    import numpy as np  # noqa: PLC0415

    path = Path(path)
    what = what or path.name
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in required if k not in z.files]
            if missing:
                raise DataCorruptError(f"{what}: {path} lacks the keys {missing} (it has {sorted(z.files)})")
            present = {**required, **{k: v for k, v in (optional or {}).items() if k in z.files}}
            out = {k: z[k] for k in present}
    except DataCorruptError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataCorruptError(f"{what}: {path} is not a readable .npz ({type(exc).__name__}: {exc}); "
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


def read_image(path: str | os.PathLike, what: str | None = None):
    """Read an image file as an ``(H, W, 3)`` uint8 array (RGB); :class:`DataCorruptError` if unreadable."""
    import numpy as np  # noqa: PLC0415
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    path = Path(path)
    what = what or path.name
    if not path.is_file():
        raise DataNotFoundError(f"{what}: {path} does not exist")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataCorruptError(f"{what}: {path} is not a readable image ({type(exc).__name__}: {exc}); "
                               f"replace it with a JPEG or PNG") from None


# ---- command line: python -m cs180utils data fetch|where -------------------------------------------------

def add_arguments(parser, command: str) -> None:
    if command == "data fetch":
        parser.add_argument("names", nargs="+", choices=sorted(REGISTRY), help="datasets to download")
        parser.add_argument("--force", action="store_true", help="download again even if present")


def run(args, command: str) -> dict:
    if command == "data fetch":   # every name is tried; one failure does not stop the others
        out, failed = {}, []
        for name in dict.fromkeys(args.names):
            try:
                if getattr(args, "force", False):
                    from cs180utils import download as dl  # noqa: PLC0415
                    out[name] = str(dl.fetch(name, args.data_dir, force=True))
                else:
                    out[name] = str(resolve(name, data_dir=args.data_dir))
                print(f"{name}: {out[name]}", file=sys.stderr)
            except (DataNotFoundError, DataCorruptError) as exc:
                failed.append(f"{name}: {exc}")
        if failed:
            done = f" (fetched: {', '.join(out)})" if out else ""
            raise DataNotFoundError(f"{len(failed)} of {len(args.names)} datasets could not be had{done}:\n"
                                    + "\n".join(failed))
        return out
    out = {}
    for name in REGISTRY:
        p = locate(name, data_dir=args.data_dir)
        out[name] = str(p) if p else None
        if p is None:  # say why on stderr: absent everywhere, or present but incomplete
            ds = REGISTRY[name]
            bad = [f"{d / fn}: {'; '.join(problems(ds, d / fn))}" for d in search_dirs(args.data_dir)
                   for fn in ds.filenames if (d / fn).exists()]
            print(f"{name}: " + ("; ".join(bad) if bad else f"not found. {how_to_get(name)}"), file=sys.stderr)
    return out
