"""``python -m cs180utils data fetch NAME... [--force]`` and ``python -m cs180utils data where``.

``fetch`` downloads into ``--data-dir`` when given, else the cache (``data/`` or ``$CS180_CACHE_DIR``); its
JSON line maps each name to its path.  ``where`` maps each name to the copy training would use (or null) and
lists on stderr every copy of it in the folders searched, in order, with its state: the one used, usable ones
further down, broken ones (a broken first copy is the error training would stop with, not skipped: ``where``
then exits 1 after the listing, without the JSON line), or why none was found.  Both read the copy they report with the readers training uses (:func:`read_fully`), so a
copy they report is one training can read.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cs180utils.machinery.data import download
from cs180utils.machinery.data.files import read_image
from cs180utils.machinery.data.lookup import copies, resolve
from cs180utils.machinery.data.registry import REGISTRY, DataCorruptError, DataNotFoundError, how_to_get


def add_arguments(parser, command: str) -> None:
    if command == "data fetch":
        parser.add_argument("names", nargs="+", choices=sorted(REGISTRY), help="datasets to download")
        parser.add_argument("--force", action="store_true", help="download again even if present")


def run(args, command: str) -> dict:
    return fetch(args) if command == "data fetch" else where(args)


def fetch(args) -> dict:
    """Every name is tried; one failure does not stop the others."""
    out, failed = {}, []
    for name in dict.fromkeys(args.names):
        try:
            if getattr(args, "force", False):
                out[name] = str(download.fetch(name, args.data_dir, force=True))
            else:
                out[name] = str(resolve(name, data_dir=args.data_dir))
            try:
                read_fully(name, Path(out[name]))
            except (DataNotFoundError, DataCorruptError, ValueError, OSError) as exc:
                bad = out.pop(name)
                raise DataCorruptError(f"{name}: {bad} does not read as training reads it: {exc}. Delete it and "
                                       f"fetch it again (--force)") from None
            print(f"{name}: {out[name]}", file=sys.stderr)
        except (DataNotFoundError, DataCorruptError) as exc:
            failed.append(f"{name}: {exc}")
    if len(failed) == 1 and not out:   # the one name asked: its one line
        raise DataNotFoundError(failed[0])
    if failed:   # one line per dataset
        done = f" (fetched: {', '.join(out)})" if out else ""
        raise DataNotFoundError(f"{len(failed)} of {len(args.names)} datasets could not be had{done}:\n"
                                + "\n".join(failed))
    return out


def read_fully(name: str, path: Path) -> None:
    """Read the dataset at ``path`` as training will, with the same readers and checks (every value: NaN
    poses, partly labelled faces, images that do not decode); raises their error. Lookups only check the
    files' headers (cheap); ``where`` and ``fetch`` read everything once (about a second per dataset)."""
    if name == "lego":
        from cs180utils.nerf.scene import load_scene  # noqa: PLC0415
        load_scene(path)
    elif name == "fox":
        read_image(path)
    elif name == "imm":
        from cs180utils.keypoints.imm import read_imm_folder  # noqa: PLC0415
        read_imm_folder(path)
    elif name == "ibug300w":
        from cs180utils.keypoints.ibug import read_dlib_xml  # noqa: PLC0415
        for split in ("train", "test"):
            read_dlib_xml(path / f"labels_ibug_300W_{split}.xml")


def where(args) -> dict:
    """The JSON map and the listing on stderr; a first copy that training would stop on (broken, or not read as
    training reads it) makes it fail after the listing, in one line naming those copies (exit 1)."""
    out, broken = {}, []
    for name in REGISTRY:
        out[name] = None
        found = copies(name, args.data_dir)
        if not found:
            print(f"{name}: not found. {how_to_get(name)}", file=sys.stderr)
            continue
        (first, why), rest = found[0], found[1:]
        if why:   # what training would stop with
            print(f"{name}: {first}: {'; '.join(why)} (error: the first copy found, training stops on it; delete it "
                  f"or replace it with a good copy)", file=sys.stderr)
            broken.append(f"{name} ({first})")
        else:
            try:
                read_fully(name, first)
            except (DataNotFoundError, DataCorruptError, ValueError, OSError) as exc:
                print(f"{name}: {first} is present but training could not read it: {exc}", file=sys.stderr)
                broken.append(f"{name} ({first})")
            else:
                out[name] = str(first)
                print(f"{name}: {first}: used", file=sys.stderr)
        for p, why in rest:
            state = "; ".join(why) if why else "usable"
            print(f"{name}: {p}: {state} (not used: {first} comes first)", file=sys.stderr)
    if broken:
        one = len(broken) == 1
        names = " ".join(b.split(" ", 1)[0] for b in broken)
        raise DataCorruptError(f"the first {'copy' if one else 'copies'} found of {', '.join(broken)} cannot be "
                               f"used, and training stops on {'it' if one else 'them'} (see above): delete or replace "
                               f"{'it' if one else 'each'} with a good copy (python -m cs180utils data fetch {names} "
                               f"downloads {'one' if one else 'them'} once {'it is' if one else 'they are'} gone)")
    return out
