"""``python -m cs180utils data fetch NAME... [--force]`` and ``python -m cs180utils data where``.

``fetch`` downloads into ``--data-dir`` when given, else the cache (``data/`` or ``$CS180_CACHE_DIR``); its
JSON line maps each name to its path.  ``where`` maps each name to the usable copy found (or null) and says
on stderr why a name was not found: absent everywhere, or present but refused by the content check.
"""
from __future__ import annotations

import sys

from cs180utils.data import download
from cs180utils.data.lookup import locate, resolve, unusable
from cs180utils.data.registry import REGISTRY, DataCorruptError, DataNotFoundError, how_to_get


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
            print(f"{name}: {out[name]}", file=sys.stderr)
        except (DataNotFoundError, DataCorruptError) as exc:
            failed.append(f"{name}: {exc}")
    if failed:
        done = f" (fetched: {', '.join(out)})" if out else ""
        raise DataNotFoundError(f"{len(failed)} of {len(args.names)} datasets could not be had{done}:\n"
                                + "\n".join(failed))
    return out


def where(args) -> dict:
    out = {}
    for name in REGISTRY:
        p = locate(name, data_dir=args.data_dir)
        out[name] = str(p) if p else None
        if p is None:  # say why on stderr: absent everywhere, or present but refused
            bad = unusable(name, args.data_dir)
            print(f"{name}: " + ("; ".join(bad) if bad else f"not found. {how_to_get(name)}"), file=sys.stderr)
    return out
