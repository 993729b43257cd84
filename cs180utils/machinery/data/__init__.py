"""The workbook's datasets: find them by name, download them safely, read them with clear errors.

    >>> from cs180utils.machinery import data
    >>> data.locate("lego")            # Path or None, never downloads
    >>> data.resolve("lego")           # Path, downloading into the cache if needed, else DataNotFoundError
    >>> data.find_or_notice("lego")    # Path (downloaded if need be), or None offline (a banner says so)
    >>> data.load_npz(path, {"images_train": ("N", "H", "W", 3)})   # arrays, or DataCorruptError
    >>> data.read_image(path)          # (H, W, 3) uint8, or DataCorruptError

Lookup order: an explicit path -> ``data_dir`` (``--data-dir``) -> ``$CS180_DATA_DIR`` -> the cache
(``data/`` or ``$CS180_CACHE_DIR``) -> a download into the cache -> a clear error.  Sources, licences and
citations: ``data/README.md``.

Modules, each importing only those listed before it:

    folders.py    search_dirs: the folders looked in, in order
    registry.py   Dataset, REGISTRY, DataNotFoundError, DataCorruptError, how_to_get
    files.py      load_npz, read_image, and THE content check (problems, check_dataset)
    download.py   fetch, download_url, extract_archive: verified, atomic, resumable, safe extraction, mirrors
    lookup.py     locate, resolve, find_or_notice, unusable
    cli.py        python -m cs180utils data fetch|where
"""
from cs180utils.machinery.data.download import DownloadError
from cs180utils.machinery.data.files import check_dataset, load_npz, problems, read_image
from cs180utils.machinery.data.folders import search_dirs
from cs180utils.machinery.data.lookup import StandInRefused, find_or_notice, locate, resolve, unusable
from cs180utils.machinery.data.registry import REGISTRY, DataCorruptError, DataNotFoundError, Dataset, how_to_get

__all__ = ["REGISTRY", "Dataset", "DataCorruptError", "DataNotFoundError", "DownloadError", "check_dataset",
           "find_or_notice", "how_to_get", "load_npz", "locate", "problems", "read_image", "resolve",
           "search_dirs", "StandInRefused", "unusable"]
