"""Read and write the AAM shape files (``.asf``) of the IMM face databases.

Both IMM layouts use the same format (Stegmann's AAM-API): a comment header, the number of points, then one
line per point ``<path#> <type> <x rel> <y rel> <point#> <connects from> <connects to> ...`` with ``x, y``
as fractions of the image width and height, and the host image's file name at the end.

- IMM Face Database: 240 images 640x480 of 40 people, 58 points, files ``01-1m.asf`` (person-index+kind).
- IMM Frontal Face DB: 120 images 800x600 of 12 people, 73 points, files ``01_01.asf`` (person_index).

    >>> shape = read_asf("01_01.asf")          # AsfShape: points (K, 2) relative, paths, host image
    >>> shape.pixels(width=800, height=600)    # (K, 2) pixels, (x, y)
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cs180utils.readers import DataCorruptError


@dataclass
class AsfShape:
    points: np.ndarray        # (K, 2) float64, (x, y) as fractions of width / height
    paths: np.ndarray         # (K,) int, the path (outline) each point belongs to
    types: np.ndarray         # (K,) int, point type flags of the AAM-API (0 outer edge, 4 inner, ...)
    connects: np.ndarray      # (K, 2) int, the point each one connects from / to
    host_image: str           # file name of the image, relative to the .asf's folder
    path: Path | None = None  # where it was read from

    def pixels(self, width: int, height: int) -> np.ndarray:
        """Keypoints in pixels ``(K, 2)``, (x, y): relative coordinates times the image size, which are already
        continuous pixel coordinates (the package's convention, see :mod:`cs180utils.keypoints`)."""
        return self.points * np.array([width, height], dtype=np.float64)

    @property
    def image_path(self) -> Path:
        """The host image next to the .asf file."""
        base = self.path.parent if self.path is not None else Path(".")
        return base / self.host_image


def read_asf(path: str | os.PathLike) -> AsfShape:
    """Parse one ``.asf`` file. Raises :class:`DataCorruptError` with the file and line on bad content."""
    path = Path(path)
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise DataCorruptError(f"{path}: cannot read ({exc})") from exc
    lines = [ln.strip() for ln in text.splitlines()]
    body = [(i + 1, ln) for i, ln in enumerate(lines) if ln and not ln.startswith("#")]
    if not body:
        raise DataCorruptError(f"{path}: empty .asf file (no point count)")
    try:
        n = int(body[0][1])
    except ValueError:
        raise DataCorruptError(f"{path}:{body[0][0]}: expected the number of points, got {body[0][1]!r}") from None
    rest = body[1:]
    m = 0   # point lines (7+ fields) after the count, before the host image line
    while m < len(rest) and len(rest[m][1].split()) >= 7:
        m += 1
    if m < n and m + 1 < len(rest):   # an odd line with more after it: a malformed point, not a cut file
        raise DataCorruptError(f"{path}:{rest[m][0]}: expected 7+ fields per point, got {rest[m][1]!r}")
    if m < n:
        raise DataCorruptError(f"{path}: header says {n} points but only {m} point lines follow "
                               f"(truncated file? re-extract the dataset)")
    if m > n:
        raise DataCorruptError(f"{path}:{body[0][0]}: header says {n} points but {m} point lines follow; correct "
                               f"the count or re-extract the dataset")
    if m == len(rest):
        raise DataCorruptError(f"{path}: no host image line after the {n} points (truncated file? re-extract the "
                               f"dataset)")
    rows = []
    for i, (lineno, ln) in enumerate(rest[:n]):
        f = ln.split()
        try:
            rows.append((int(f[0]), int(f[1]), float(f[2]), float(f[3]), int(f[4]), int(f[5]), int(f[6])))
        except ValueError:
            raise DataCorruptError(f"{path}:{lineno}: unparsable point line {ln!r}") from None
        x, y = rows[-1][2:4]
        if not (np.isfinite(x) and np.isfinite(y)):
            what = "a NaN" if np.isnan(x) or np.isnan(y) else "an infinite"
            raise DataCorruptError(f"{path}:{lineno}: point {i} has {what} coordinate ({' '.join(f[:4])} ...); fix that point or "
                                   f"re-extract the dataset")
        if not (-0.5 <= x <= 1.5 and -0.5 <= y <= 1.5):
            raise DataCorruptError(f"{path}:{lineno}: point {i} at ({x}, {y}): coordinates are not relative "
                                   f"(fractions of the image size, 0 to 1); fix that point or re-extract the "
                                   f"dataset")
    a = np.array(rows, dtype=np.float64)
    if not np.array_equal(a[:, 4], np.arange(n)):
        raise DataCorruptError(f"{path}: point numbers are not 0..{n - 1} in order")
    pts = a[:, 2:4]
    host = rest[n][1]
    return AsfShape(points=pts, paths=a[:, 0].astype(int), types=a[:, 1].astype(int),
                    connects=a[:, 5:7].astype(int), host_image=host, path=path)


def write_asf(path: str | os.PathLike, points_rel: np.ndarray, host_image: str,
              paths: np.ndarray | None = None, types: np.ndarray | None = None,
              connects: np.ndarray | None = None) -> Path:
    """Write an ``.asf`` file in the IMM format. ``points_rel``: (K, 2) fractions of width/height.

    Without ``paths`` every point is its own path; ``connects`` defaults to a chain within each path.
    """
    pts = np.asarray(points_rel, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points_rel must be (K, 2), got {pts.shape}")
    k = len(pts)
    paths = np.arange(k) if paths is None else np.asarray(paths, dtype=int)
    types = np.zeros(k, dtype=int) if types is None else np.asarray(types, dtype=int)
    if connects is None:
        connects = chain_connects(paths)
    lines = ["#" * 70, "#", "#    AAM Shape File  -  written by cs180utils.keypoints.asf", "#", "#" * 70, "",
             "#", "# number of model points", "#", str(k), "", "#", "# model points", "#",
             "# format: <path#> <type> <x rel.> <y rel.> <point#> <connects from> <connects to> "
             "<user1> <user2> <user3>", "#"]
    for i in range(k):
        lines.append(f"{paths[i]} \t{types[i]} \t{pts[i, 0]:.8f} \t{pts[i, 1]:.8f} \t{i} \t{connects[i, 0]} "
                     f"\t{connects[i, 1]}\t0.000000\t0.000000\t0.000000")
    lines += ["", "#", "# host image", "#", host_image, ""]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="latin-1")
    return path


def chain_connects(paths: np.ndarray) -> np.ndarray:
    """(K, 2) from/to neighbours chaining the points of each path in order (open chains)."""
    paths = np.asarray(paths)
    k = len(paths)
    con = np.stack([np.arange(k), np.arange(k)], axis=1)
    for p in np.unique(paths):
        idx = np.flatnonzero(paths == p)
        con[idx[1:], 0] = idx[:-1]
        con[idx[:-1], 1] = idx[1:]
        con[idx[0], 0], con[idx[-1], 1] = idx[0], idx[-1]
    return con


_FRONTAL = re.compile(r"^(\d+)_(\d+)$")          # 01_01   (IMM Frontal: person_index)
_IMM = re.compile(r"^(\d+)-(\d+)([a-z]*)$")       # 01-1m   (IMM: person-index + kind letter)


def parse_name(name: str) -> tuple[int, int]:
    """``(person, index)`` from a file name of either IMM layout: ``01_03.jpg`` -> (1, 3), ``12-4m`` -> (12, 4)."""
    stem = Path(name).stem
    m = _FRONTAL.match(stem) or _IMM.match(stem)
    if not m:
        raise ValueError(f"{name!r} is not an IMM file name (expected PP_II like 01_03 or PP-Nx like 01-1m)")
    return int(m.group(1)), int(m.group(2))
