"""Where each course reader's files come from: the data folders, a download, or a generated stand-in.

The course library's readers take a path (:func:`cs180utils.nerf.scene.load_scene`,
:func:`cs180utils.keypoints.imm.read_imm_folder`, :func:`cs180utils.keypoints.ibug.read_dlib_xml`, an image
file). These functions find that path the workbook's way (:mod:`cs180utils.machinery.data`: an explicit path,
``--data-dir``, ``$CS180_DATA_DIR``, the cache, a download), and where the real data cannot be had they write and
use a generated stand-in with one notice, so that every notebook still runs offline:

    >>> default_scene(size=100)              # lego if found, else the generated scene (notebooks 02-04, 10)
    >>> load_image("fox", image_size=256)    # the course's fox photo, else Grace Hopper (notebook 01)
    >>> load_imm()                           # (records, "frontal73" | "imm58" | "generated") (notebooks 05-06)
    >>> labels_path("train")                 # the 300-W labels XML, or None: generated faces (notebooks 07-09)

With ``CS180_CAPPED=1`` (the capped full-profile run) a scene keeps one validation view
(:func:`cs180utils.machinery.capped.cap_scene`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from cs180utils.field2d import images as field_images
from cs180utils.keypoints.imm import ImmRecord, layout_of, read_imm_folder
from cs180utils.machinery import capped, config, data, distributed
from cs180utils.nerf.scene import Scene, generate_scene, load_scene


def _find(name: str, **kwargs) -> Path | None:
    """:func:`cs180utils.machinery.data.find_or_notice`; under torchrun rank 0 first (it downloads, the others
    then find its copy: every process trains on the same data)."""
    with distributed.rank0_first():
        return data.find_or_notice(name, **kwargs)


# ---- notebook 01: the image to fit --------------------------------------------------------------------------

NAMED_IMAGES = ("hopper", "fox", "terrain")


def hopper_path() -> Path:
    """Path of matplotlib's bundled ``grace_hopper.jpg``."""
    from matplotlib import cbook  # noqa: PLC0415

    return Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def terrain_image() -> np.ndarray:
    """A hill-shaded colour rendering of matplotlib's bundled elevation model. Returns ``(344, 403, 3)``
    float32 in ``[0, 1]``."""
    from matplotlib import cbook  # noqa: PLC0415
    from matplotlib import colormaps  # noqa: PLC0415
    from matplotlib.colors import LightSource  # noqa: PLC0415

    with np.load(cbook.get_sample_data("jacksboro_fault_dem.npz", asfileobj=False)) as dem:
        z = dem["elevation"].astype(np.float64)  # (H, W) metres
    rgb = LightSource(azdeg=315, altdeg=45).shade(z, cmap=colormaps["gist_earth"], blend_mode="soft",
                                                    vert_exag=0.05)
    return np.ascontiguousarray(rgb[..., :3], dtype=np.float32)


def load_image(source=None, image_size: int | None = None, data_dir: str | os.PathLike | None = None
               ) -> tuple[np.ndarray, str]:
    """An image by name, path or array, as :func:`cs180utils.field2d.images.load_image` returns it:

    - ``None`` / ``"hopper"``: Grace Hopper, the photo bundled with matplotlib (``grace_hopper.jpg``, 512 x 600):
      always there, offline.
    - ``"fox"``: the course's fox photo (the data folders: ``$CS180_DATA_DIR``, ``data/``); when it is missing a
      one-time notice is printed and Grace Hopper is used instead (``name`` then says ``"hopper"``).
    - ``"terrain"``: a hill-shaded elevation map rendered from matplotlib's bundled ``jacksboro_fault_dem``
      (403 x 344): lots of fine detail, also offline.
    - any other string or path: an image file (jpg, png, ...); an array: that image.
    """
    name = source.lower() if isinstance(source, str) else None
    if source is None or name in ("hopper", "grace_hopper", "default"):
        image, _ = field_images.load_image(hopper_path(), image_size)
        return image, "hopper"
    if name == "fox":
        found = _find("fox", data_dir=data_dir, fallback="matplotlib's grace_hopper.jpg")
        if found is None:
            return load_image("hopper", image_size)
        image, _ = field_images.load_image(found, image_size)
        return image, "fox"
    if name == "terrain":
        return field_images.downscale(terrain_image(), image_size), "terrain"
    return field_images.load_image(source, image_size)


# ---- notebooks 02-04, 10: the NeRF scene -----------------------------------------------------------------------

def default_scene(path: str | os.PathLike | None = None, size: int | None = None,
                  data_dir: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None) -> Scene:
    """``path`` if given, else lego when it can be found, else the generated scene (cached in ``cache_dir``,
    default ``runs/scenes``, with one notice); at ``size`` pixels when given."""
    if path is None:
        path = _find("lego", data_dir=data_dir, fallback="the generated scene (cs180utils.nerf.scene)")
    if path is None:  # generated at the size asked for (cheaper than generating 200 px and shrinking)
        n = size or 200
        cache = (Path(cache_dir) if cache_dir is not None else config.runs_dir("scenes")) / f"generated_{n}.npz"
        with distributed.rank0_first():   # under torchrun: rank 0 writes it, the others read its file
            if not cache.is_file():
                generate_scene(cache, size=n)
        scene = load_scene(cache)  # from the file also the first time: the same (uint8) images every time
        scene.name = "generated"
    else:
        path = Path(path)
        if not path.exists() and path.parent == Path("."):  # a bare file name: look in the data folders too
            found = [d / path for d in data.search_dirs(data_dir) if (d / path).is_file()]
            path = found[0] if found else path
        scene = load_scene(path)
    if capped.active():
        scene = capped.cap_scene(scene)
    return scene.resized(size) if size else scene


# ---- notebooks 05-06: the IMM faces ---------------------------------------------------------------------------

_GENERATED_VERSION = "3"   # bump when synthetic.py draws differently (3: points at pixel centres, +0.5)


def generated_folder(layout: str = "frontal73", folder: str | os.PathLike | None = None, seed: int = 0) -> Path:
    """Write (once) and return an IMM-style folder of generated faces (:mod:`cs180utils.machinery.keypoints.synthetic`)."""
    from cs180utils.machinery.keypoints import synthetic  # noqa: PLC0415  (cv2 drawing, only for the stand-in)
    folder = Path(folder) if folder else config.runs_dir(f"generated_imm_{layout}_s{seed}")
    stamp = folder / "GENERATED"
    if stamp.exists() and stamp.read_text().strip() == _GENERATED_VERSION:
        return folder
    n_people = 40 if layout == "imm58" else 12
    synthetic.write_imm_folder(folder, layout=layout, n_people=n_people, per_person=6 if layout == "imm58" else 10,
                               size=(240, 320), seed=seed)
    stamp.write_text(_GENERATED_VERSION)
    return folder


def is_generated(records: Sequence[ImmRecord]) -> bool:
    """Whether the records come from a folder written by :func:`generated_folder`."""
    return (records[0].image.parent / "GENERATED").exists()


def load_imm(data_dir: str | os.PathLike | None = None, path: str | os.PathLike | None = None,
             fallback_layout: str = "frontal73") -> tuple[list[ImmRecord], str]:
    """``(records, source)``: the IMM (or IMM Frontal) faces if found, else generated faces written as
    ``.asf`` files (one clear notice on stderr). ``source`` is ``"imm58"``/``"frontal73"`` or ``"generated"``."""
    found = _find("imm", path=path, data_dir=data_dir,
                                fallback=f"generated {fallback_layout} faces in the IMM file format")
    if found is not None:
        records = read_imm_folder(found)
        return records, layout_of(records).name
    return read_imm_folder(generated_folder(fallback_layout)), "generated"


# ---- notebooks 07-09: the iBUG 300-W faces ---------------------------------------------------------------------

def labels_path(split: str, data_dir: str | os.PathLike | None = None, path: str | os.PathLike | None = None) -> Path | None:
    """The ``labels_ibug_300W_{split}.xml`` of the 300-W folder if it is present, else None (with a notice)."""
    folder = _find("ibug300w", path=path, data_dir=data_dir,
                                 fallback="generated faces (cs180utils.machinery.keypoints.synthetic, 68 points)")
    if folder is None:
        return None
    return folder / f"labels_ibug_300W_{split}.xml"
