"""Where datasets are looked for, in order: a folder asked for, ``$CS180_DATA_DIR``, the download cache.

    >>> search_dirs("/big/disk")   # [/big/disk, $CS180_DATA_DIR, <repo>/data]

Every ``data_dir=`` argument (and ``--data-dir``) in the workbook is such a search folder, looked in first.
The cache (:func:`cs180utils.machinery.config.cache_dir`, ``$CS180_CACHE_DIR``) is where downloads go.
"""
from __future__ import annotations

import os
from pathlib import Path

from cs180utils.machinery import config


def search_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched, in order: ``data_dir``, ``$CS180_DATA_DIR``, the download cache.

    ``data_dir`` or ``$CS180_DATA_DIR`` naming a file raises ``NotADirectoryError`` naming it, and a
    ``$CS180_DATA_DIR`` that does not exist ``FileNotFoundError``: a mistake to fix (a typo), not a reason to
    fall back to another copy or a stand-in, nor to advise paths under it. A ``data_dir`` that does not exist
    yet is only not searched (``data fetch --data-dir`` creates it)."""
    dirs = []
    if data_dir:
        arg = Path(data_dir).expanduser()
        if arg.is_file():
            raise NotADirectoryError(f"the data folder {arg} (--data-dir / data_dir=) is a file; pass the folder "
                                     f"that holds the datasets")
        dirs.append(arg)
    if os.environ.get("CS180_DATA_DIR"):
        env = Path(os.environ["CS180_DATA_DIR"]).expanduser()
        # a relative $CS180_DATA_DIR (CI: ../shared/data) means relative to where it was set; notebooks run in
        # notebooks/, so fall back to reading it relative to the repository root
        if not env.is_absolute() and not env.is_dir() and (config.REPO_ROOT / env).is_dir():
            env = config.REPO_ROOT / env
        if env.is_file():
            raise NotADirectoryError(f"CS180_DATA_DIR={os.environ['CS180_DATA_DIR']} is a file, not a folder: set "
                                     f"CS180_DATA_DIR to the folder that holds the datasets, or unset it")
        if not env.is_dir():   # a typo would otherwise train on the cache's copy or a stand-in without a word
            raw = os.environ["CS180_DATA_DIR"]
            where = "" if str(env) == raw else f" ({env})"
            raise FileNotFoundError(f"CS180_DATA_DIR={raw} does not exist{where}: set CS180_DATA_DIR to the folder "
                                    f"that holds the datasets, or unset it")
        dirs.append(env)
    dirs.append(config.cache_dir())
    return dirs
