"""Find a dataset by name: explicit path -> ``data_dir`` -> ``$CS180_DATA_DIR`` -> cache -> download -> error.

    >>> locate("lego")            # Path or None, never downloads
    >>> resolve("lego")           # Path, downloading into the cache if needed, else DataNotFoundError
    >>> find_or_notice("lego")    # Path, downloaded if need be; None (stand-in, with a banner) only when offline

Real data first (:func:`find_or_notice`, what the notebooks and trainings call): a dataset that is not in a data
folder is downloaded into the cache (``data/``; progress bar, content checks) whenever the network answers. Only
when that fails does the caller fall back to its stand-in, announced by a banner in the notebook that says what
is generated and how to get the real data. In the ``full`` profile (hours of GPU) a stand-in is refused with
:class:`StandInRefused`, naming the fetch command, unless ``CS180_ALLOW_STANDIN=1``.

A copy that :func:`cs180utils.machinery.data.files.problems` refuses (an empty npz, a jpg that does not open, a folder
short of files) is not skipped for another copy further down the search order: the first copy found is the one
used, and a broken one is :class:`BrokenCopy`, naming it and what to do. :func:`copies` lists every copy with
what is wrong with it (``data where`` prints them).
"""
from __future__ import annotations

import os
from pathlib import Path

from cs180utils.machinery import config
from cs180utils.machinery.data import download as _download   # resolve() has a `download` flag
from cs180utils.machinery.data.files import problems
from cs180utils.machinery.data.folders import search_dirs
from cs180utils.machinery.data.registry import DataCorruptError, DataNotFoundError, get, how_to_get
from cs180utils.machinery.notebook import banner

ALLOW_STANDIN_ENV = "CS180_ALLOW_STANDIN"   # "1": the full profile may run on a stand-in


class BrokenCopy(DataCorruptError):
    """The first copy of a dataset in the search order is not usable; the message names it and what to do. Not
    skipped for a copy further down (that would train on other data without a word), nor for a stand-in."""


class StandInRefused(DataNotFoundError):
    """The ``full`` profile was about to run on a stand-in; the message names the fetch command and the opt-in."""


def copies(name: str, data_dir: str | os.PathLike | None = None) -> list[tuple[Path, list[str]]]:
    """Every copy of dataset ``name`` present in the search folders, in the order they are looked in, each with
    what :func:`cs180utils.machinery.data.files.problems` finds wrong with it (``[]``: usable)."""
    ds = get(name)
    return [(d / fn, problems(ds, d / fn)) for d in search_dirs(data_dir) for fn in ds.filenames
            if (d / fn).exists()]


def broken_copy(name: str, path: Path, why: list[str]) -> BrokenCopy:
    return BrokenCopy(f"{name}: {path} is not a usable copy ({'; '.join(why)}), and it is the first copy of "
                      f"'{name}' in the folders searched; delete it or replace it with a good copy "
                      f"(`{fetch_command(name)}` downloads one once it is gone), then run again")


def locate(name: str, path: str | os.PathLike | None = None,
           data_dir: str | os.PathLike | None = None) -> Path | None:
    """The dataset's path if a copy is present (explicit ``path`` first), else None. Never downloads.

    An explicit ``path`` is returned as given (no content check: the caller asked for it); one that does not
    exist raises :class:`DataNotFoundError` (a typo should not silently fall back to something else).  In the
    search folders the first copy found is the one: a copy the content check refuses raises :class:`BrokenCopy`
    (naming it and what to do), rather than be skipped for another copy or a stand-in.
    """
    ds = get(name)
    if path is not None:
        p = Path(path).expanduser()
        if not p.exists():
            raise DataNotFoundError(f"{name}: {p} does not exist. {how_to_get(name)}")
        return p
    for p, why in copies(name, data_dir):
        if why:
            raise broken_copy(ds.name, p, why)
        return p
    return None


def unusable(name: str, data_dir: str | os.PathLike | None = None) -> list[str]:
    """The copies of ``name`` present in the search folders that the content check refuses, as
    ``"path: what is wrong"`` (empty when there are none)."""
    return [f"{p}: {'; '.join(why)}" for p, why in copies(name, data_dir) if why]


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


_NOTICED: set[str] = set()   # names whose stand-in was announced in this process
_FAILED: set[str] = set()    # names whose download failed in this process (not tried again)


def allow_standin() -> bool:
    """True when ``CS180_ALLOW_STANDIN`` is set to anything but ``""``/``"0"``."""
    return os.environ.get(ALLOW_STANDIN_ENV, "") not in ("", "0")


def fetch_command(name: str) -> str:
    """The command that downloads dataset ``name`` (a notebook cell runs it with a leading ``!``)."""
    return f"python -m cs180utils data fetch {name}"


def find_or_notice(name: str, path: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
                   download: bool = True, fallback: str = "a generated stand-in", profile: str | None = None
                   ) -> Path | None:
    """The real dataset, downloaded into the cache when it is not present and the network answers; None when it
    cannot be had, so that the caller uses ``fallback`` instead.

    Saying so once per name and process: a banner in a notebook (:func:`cs180utils.machinery.notebook.banner`), the same
    lines on stderr elsewhere, naming the stand-in, why the real data is missing and the fetch command. A failed
    download is not tried again in the same process. ``download=False`` (or ``CS180_OFFLINE=1``) only looks.

    Raises:
        StandInRefused: in the ``full`` profile (``profile``, else ``$CS180_PROFILE``, else the default), unless
            ``CS180_ALLOW_STANDIN=1``: hours of GPU on generated data are not what anyone wants.
    """
    try:
        return resolve(name, path, data_dir, download=download and name not in _FAILED)
    except BrokenCopy:   # a broken copy where the real data is looked for first: to fix, not to stand in for
        raise
    except (DataNotFoundError, DataCorruptError) as exc:
        if download and not _download.offline():
            _FAILED.add(name)
        why = str(exc)
    if config.get_profile(profile) == "full" and not allow_standin():
        raise StandInRefused(
            f"the full profile runs on the real '{name}' only, and it is not here: {why} Get it with "
            f"`{fetch_command(name)}` (in a notebook cell: `!{fetch_command(name)}`), or set "
            f"{ALLOW_STANDIN_ENV}=1 to run on {fallback} instead.")
    if name not in _NOTICED:
        _NOTICED.add(name)
        banner(f"Stand-in data: {fallback}",
               f"real data '{name}' not found; using {fallback}. The results are illustrative, not the "
               f"course's. {why} To use the real data, run the command below (in a notebook cell, with a "
               f"leading !), then run the notebook again.",
               [fetch_command(name)], label="NOTICE")
    return None
