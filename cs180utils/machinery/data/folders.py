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
    """Folders searched, in order: ``data_dir``, ``$CS180_DATA_DIR``, the download cache."""
    dirs = [Path(data_dir).expanduser()] if data_dir else []
    if os.environ.get("CS180_DATA_DIR"):
        env = Path(os.environ["CS180_DATA_DIR"]).expanduser()
        # a relative $CS180_DATA_DIR (CI: ../shared/data) means relative to where it was set; notebooks run in
        # notebooks/, so fall back to reading it relative to the repository root
        if not env.is_absolute() and not env.is_dir() and (config.REPO_ROOT / env).is_dir():
            env = config.REPO_ROOT / env
        dirs.append(env)
    dirs.append(config.cache_dir())
    return dirs
