"""What floating point does to positional-encoding frequencies ``2^k pi`` for large ``k``.

At a pixel ``u`` of an image ``W`` wide the course's coordinate is ``x = u / W`` and the PE feature is
``sin(2^k pi u / W)``. Its exact value needs no high-precision arithmetic: with the integer
``r = (u * 2^k) mod 2W``, ``sin(2^k pi u / W) = sin(pi r / W)`` (same for cos). Comparing that with what
torch computes in float32 / float64 shows, per ``k``, how much of the feature is rounding error:
float32 keeps 24 significant bits, so ``2^k pi x`` loses its fractional part around ``k ~ 24 - log2(1/x)``
and from then on the "feature" is a deterministic but meaningless function of the pixel index (a hash);
float64 (53 bits) holds out to ``k ~ 50``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from cs180utils.encodings import positional_encoding


def exact_pe(u: np.ndarray, width: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``sin`` and ``cos`` of ``2^k pi u / width`` for integer pixels ``u`` (float64, error ~1e-16)."""
    u = np.asarray(u, dtype=object)
    r = np.array([(int(ui) << k) % (2 * width) for ui in u.ravel()], dtype=np.float64).reshape(u.shape)
    angle = math.pi * r / width
    return np.sin(angle), np.cos(angle)


def pe_error(width: int, num_freqs: int, dtype: torch.dtype = torch.float32,
             pixels: np.ndarray | None = None) -> np.ndarray:
    """Max |computed - exact| over the pixels ``u`` (default all of ``0..width-1``) of the sin and cos
    features of ``positional_encoding(u / width, L)`` in ``dtype``. Returns ``(L,)`` float64, one per k."""
    u = np.arange(width) if pixels is None else np.asarray(pixels)
    x = torch.tensor((u / width)[:, None], dtype=torch.float64).to(dtype)  # (N, 1), rounded as a model sees it
    pe = positional_encoding(x, num_freqs).double().numpy()[:, 1:].reshape(len(u), num_freqs, 2)  # (N, L, 2)
    err = np.zeros(num_freqs)
    for k in range(num_freqs):
        s, c = exact_pe(u, width, k)
        err[k] = max(np.abs(pe[:, k, 0] - s).max(), np.abs(pe[:, k, 1] - c).max())
    return err


def first_broken_frequency(err: np.ndarray, tol: float = 0.1) -> int | None:
    """The first ``k`` whose error exceeds ``tol`` (None if none does)."""
    bad = np.nonzero(err > tol)[0]
    return int(bad[0]) if len(bad) else None
