"""Find a dataset by name: explicit path -> ``data_dir`` -> ``$CS180_DATA_DIR`` -> cache -> download -> error.

    >>> locate("lego")            # Path or None, never downloads
    >>> resolve("lego")           # Path, downloading into the cache if needed, else DataNotFoundError
    >>> find_or_notice("lego")    # Path or None; prints once how to get the real data when missing

A copy that :func:`cs180utils.data.files.problems` refuses (an empty npz, a jpg that does not open, a folder
short of files) is skipped, and :func:`unusable` says why.
"""
from __future__ import annotations

import os
from pathlib import Path

from cs180utils.data import download as _download   # resolve() has a `download` flag
from cs180utils.data.files import problems
from cs180utils.data.folders import search_dirs
from cs180utils.data.registry import DataNotFoundError, get, how_to_get
from cs180utils.notebook import notice

def locate(name: str, path: str | os.PathLike | None = None,
           data_dir: str | os.PathLike | None = None) -> Path | None:
    """The dataset's path if a usable copy is present (explicit ``path`` first), else None. Never downloads.

    An explicit ``path`` is returned as given (no content check: the caller asked for it); one that does not
    exist raises :class:`DataNotFoundError` (a typo should not silently fall back to something else).  In the
    search folders, a copy the content check refuses is skipped (:func:`unusable` says why).
    """
    ds = get(name)
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


def unusable(name: str, data_dir: str | os.PathLike | None = None) -> list[str]:
    """The copies of ``name`` present in the search folders that the content check refuses, as
    ``"path: what is wrong"`` (empty when there are none)."""
    ds = get(name)
    found = []
    for d in search_dirs(data_dir):
        for fn in ds.filenames:
            why = problems(ds, d / fn) if (d / fn).exists() else []
            if why:
                found.append(f"{d / fn}: {'; '.join(why)}")
    return found


def resolve(name: str, path: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
            download: bool = True) -> Path:
    """The dataset's path: found locally, else downloaded (into ``data_dir`` when given, else the cache),
    else :class:`DataNotFoundError`, naming any copy that was present but refused.

    Downloads are skipped when ``download`` is False or ``CS180_OFFLINE=1``.
    """
    found = locate(name, path, data_dir)
    if found is not None:
        return found
    if download and not _download.offline():
        return _download.fetch(name, data_dir)
    why = "downloads are off" if not download else "downloads are disabled (CS180_OFFLINE is set)"
    refused = unusable(name, data_dir)
    seen = f" (present but unusable: {'; '.join(refused)})" if refused else ""
    raise DataNotFoundError(f"{name}: not found{seen} and {why}. {how_to_get(name)}")


_NOTICED: set[str] = set()


def find_or_notice(name: str, path: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
                   download: bool = False, fallback: str = "a generated stand-in") -> Path | None:
    """Like :func:`resolve` but returns None when the data cannot be had, saying once (per name and process) that
    real data was not found, how to get it, and that ``fallback`` is used instead: a visible note in a notebook
    (:func:`cs180utils.notebook.notice`, not the red stderr box), a ``NOTICE:`` line on stderr elsewhere."""
    try:
        return resolve(name, path, data_dir, download=download)
    except DataNotFoundError as exc:
        if name not in _NOTICED:
            _NOTICED.add(name)
            notice(f"real data '{name}' not found; using {fallback}. {exc}", title="Notice")
        return None
