"""The workbook's datasets by name, the two errors every reader raises, and how to get each dataset.

Names: ``lego`` (lego_200x200.npz), ``imm`` (IMM Face Database folder; the IMM Frontal Face DB is accepted
too), ``ibug300w`` (iBUG 300-W large landmark set folder with the dlib XML files), ``fox`` (the course's photo).
Sources, licences and citations: ``data/README.md``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from cs180utils.machinery.data.folders import search_dirs
from cs180utils.readers import DataCorruptError, DataNotFoundError  # noqa: F401  (re-exported: every reader raises them)


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
# the npz, a readable image, the .asf/.jpg files or XMLs an archive must hold).
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


def get(name: str, registry: dict[str, Dataset] | None = None) -> Dataset:
    """The registry entry ``name``; a KeyError listing the known names otherwise."""
    reg = REGISTRY if registry is None else registry
    try:
        return reg[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(reg)}") from None


def where_to_put(ds: Dataset, data_dir: str | os.PathLike | None = None) -> str:
    """One sentence: where to put ``ds`` (under the folders searched with ``data_dir``) and where to get it."""
    where = " or ".join(str(d / ds.filenames[0]) for d in search_dirs(data_dir))
    also = f" (or {', '.join(ds.filenames[1:])})" if len(ds.filenames) > 1 else ""
    return (f"Put {ds.filenames[0]}{also} at {where} (or set CS180_DATA_DIR to the folder that holds it); "
            f"official copy: {ds.url}  (python -m cs180utils data fetch {ds.name})")


def how_to_get(name: str) -> str:
    """One sentence: where to put dataset ``name`` and where to download it."""
    return where_to_put(get(name))
