"""Multiresolution grid encoding (Instant-NGP style), pure PyTorch, for 2-D and 3-D inputs (any ``d`` works).

A point ``x`` in the unit cube ``[0, 1]^d`` is looked up in ``n_levels`` grids of growing resolution
``N_0 = base_resolution ... N_{L-1} = finest_resolution`` (geometric steps, as in Müller et al. 2022, eq. 2);
each grid stores ``features_per_level`` learned numbers at its vertices and the lookup interpolates them
(bilinear in 2-D, trilinear in 3-D, d-linear in general).  The levels' features are concatenated:

    (N, d) in [0, 1]^d  ->  (N, n_levels * features_per_level)

A level whose ``N^d`` vertices fit in the table budget ``2^log2_hashmap_size`` is stored *dense* (one entry per
vertex, no collisions); a finer level is *hashed* into a table of ``2^log2_hashmap_size`` rows with the paper's
spatial hash ``xor_i(c_i * pi_i) mod T``.  ``log2_hashmap_size=None`` keeps every level dense.

Why two code paths for the lookup: ``torch.nn.functional.grid_sample`` is PyTorch's own compiled bilinear /
trilinear interpolation (forward and backward), and is the fastest way to read a dense 2-D or 3-D grid on a CPU;
hashed levels (and dense grids of other dimensions) use an explicit gather of the ``2^d`` corners.  Both give the
same numbers on a dense grid (``tests/test_grid_encoding.py`` checks it).  On a CPU, ``grid_sample`` runs each
batch item on one thread, so a large lookup is dealt out to one (expanded, not copied) table per thread
(:meth:`GridLevel.parts`): same values, gradients equal up to the order of a sum.

Vertex ``i`` of a level of resolution ``N`` sits at ``x = i / (N - 1)`` (``align_corners=True``); inputs outside
``[0, 1]`` are clamped to the border.
"""
from __future__ import annotations

import math
from itertools import product

import torch
import torch.nn.functional as F
from torch import nn

# the spatial hash's primes (Teschner et al. 2003, as used by Instant-NGP); the first is 1 for cache coherence
_PRIMES = (1, 2654435761, 805459861, 3674653429, 2097192037, 1434869437, 2165219737)


def level_resolutions(n_levels: int, base_resolution: int, finest_resolution: int) -> list[int]:
    """Per-level grid resolutions ``floor(N_min * b^l)``, ``b = exp((ln N_max - ln N_min) / (L - 1))``."""
    if n_levels < 1:
        raise ValueError(f"n_levels must be >= 1, got {n_levels}")
    if base_resolution < 2 or finest_resolution < base_resolution:
        raise ValueError(f"need 2 <= base_resolution <= finest_resolution, got {base_resolution}, {finest_resolution}")
    if n_levels == 1:
        return [int(base_resolution)]
    b = math.exp((math.log(finest_resolution) - math.log(base_resolution)) / (n_levels - 1))
    return [int(math.floor(base_resolution * b ** level + 1e-6)) for level in range(n_levels)]


def corner_weights(x: torch.Tensor, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``2^d`` grid corners around each point and their d-linear weights.

    x: (N, d) in [0, 1] (clamped).  Returns ``corners`` (N, 2^d, d) long in ``[0, resolution - 1]`` and
    ``weights`` (N, 2^d), which sum to 1 over the corners.
    """
    d = x.shape[-1]
    pos = x.clamp(0.0, 1.0) * (resolution - 1)  # (N, d) in vertex units
    lower = pos.detach().floor().clamp(max=resolution - 2)  # (N, d) so that lower + 1 stays on the grid
    frac = pos - lower  # (N, d) in [0, 1]; carries the gradient w.r.t. x
    offsets = torch.tensor(list(product((0, 1), repeat=d)), device=x.device)  # (2^d, d), last axis fastest
    corners = lower.long()[:, None, :] + offsets  # (N, 2^d, d)
    weights = torch.where(offsets.bool(), frac[:, None, :], 1.0 - frac[:, None, :]).prod(-1)  # (N, 2^d)
    return corners, weights


class GridLevel(nn.Module):
    """One level: a ``resolution^d`` grid of ``features`` numbers per vertex, dense or hashed.

    forward: x (N, d) in [0, 1]^d -> (N, features).
    Dense storage is ``table`` of shape (1, F, N, ..., N) (grid_sample's layout: the *last* axis is ``x[:, 0]``);
    hashed storage is ``table`` of shape (T, F).
    """

    def __init__(self, in_dim: int, resolution: int, features: int, hashmap_size: int | None = None,
                 init_scale: float = 1e-4, use_grid_sample: bool = True):
        super().__init__()
        self.in_dim, self.resolution, self.features = in_dim, int(resolution), int(features)
        n_vertices = self.resolution ** in_dim
        self.hashed = hashmap_size is not None and n_vertices > hashmap_size
        self.use_grid_sample = use_grid_sample and not self.hashed and in_dim in (2, 3)
        if self.hashed:
            table = torch.empty(hashmap_size, features)
        else:
            table = torch.empty(1, features, *([self.resolution] * in_dim))
        self.table = nn.Parameter(table.uniform_(-init_scale, init_scale))
        self.register_buffer("primes", torch.tensor(_PRIMES[:in_dim], dtype=torch.long), persistent=False)
        if in_dim > len(_PRIMES):
            raise ValueError(f"GridLevel supports in_dim <= {len(_PRIMES)}, got {in_dim}")

    def rows(self) -> int:
        """Number of stored feature vectors (``T`` if hashed, ``N^d`` if dense)."""
        return self.table.shape[0] if self.hashed else self.resolution ** self.in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, d) -> (N, F)
        if self.use_grid_sample:
            return self._grid_sample(x)
        corners, weights = corner_weights(x, self.resolution)  # (N, 2^d, d), (N, 2^d)
        index = self.index(corners)  # (N, 2^d)
        table = self.table if self.hashed else self.table.reshape(self.features, -1).t()  # (rows, F)
        return (table[index] * weights[..., None]).sum(1)  # (N, F)

    def index(self, corners: torch.Tensor) -> torch.Tensor:
        """Row of each corner: (..., d) long -> (...) long."""
        if self.hashed:
            h = corners[..., 0] * self.primes[0]
            for i in range(1, self.in_dim):
                h = h ^ (corners[..., i] * self.primes[i])
            return h % self.table.shape[0]
        strides = self.resolution ** torch.arange(self.in_dim, device=corners.device)  # x[:, 0] is the fastest axis
        return (corners * strides).sum(-1)

    def _grid_sample(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        # PyTorch's CPU grid_sample runs one thread per batch item, so the points are dealt out to P copies of
        # the table (an expand: no copy going forward; the backward sums the P gradients), P = the threads
        P = self.parts(n, x.device)
        m = -(-n // P)                                           # points per part (the last padded)
        grid = x.clamp(0.0, 1.0) * 2.0 - 1.0                     # (N, d) in grid_sample's [-1, 1]
        if P * m != n:
            grid = torch.cat((grid, grid.new_zeros(P * m - n, self.in_dim)))
        grid = grid.reshape(P, *([1] * (self.in_dim - 1)), m, self.in_dim)
        table = self.table if P == 1 else self.table.expand(P, *self.table.shape[1:])
        out = F.grid_sample(table, grid.to(self.table.dtype), mode="bilinear", padding_mode="border",
                            align_corners=True)  # (P, F, 1, [1,] m)
        return out.reshape(P, self.features, m).permute(0, 2, 1).reshape(P * m, self.features)[:n]

    MIN_POINTS_PER_PART = 8192   # below this many points per thread one call on one thread is faster

    def parts(self, n: int, device) -> int:
        """How many batch items ``_grid_sample`` splits ``n`` points into: one per CPU thread (at least
        ``MIN_POINTS_PER_PART`` points each); 1 on a GPU, whose kernel is parallel over the points."""
        if device.type != "cpu":
            return 1
        return max(1, min(torch.get_num_threads(), n // self.MIN_POINTS_PER_PART))

    def extra_repr(self) -> str:
        kind = f"hashed T={self.table.shape[0]}" if self.hashed else "dense"
        return f"d={self.in_dim}, N={self.resolution}, F={self.features}, {kind}"


class GridEncoding(nn.Module):
    """Multiresolution grid encoding: (N, in_dim) in [0, 1]^in_dim -> (N, out_dim), out_dim = levels * F.

    Args:
        in_dim: input dimension (2 for an image, 3 for a scene).
        n_levels: number of resolutions ``L``.
        features_per_level: features ``F`` stored per vertex at each level.
        base_resolution, finest_resolution: coarsest and finest grid resolution (vertices per axis).
        log2_hashmap_size: table budget per level; finer levels are hashed into ``2^this`` rows.
            ``None`` keeps every level dense (no collisions; memory grows as ``N^d``).
        init_scale: tables start uniform in ``[-init_scale, init_scale]`` (Instant-NGP: 1e-4).
        use_grid_sample: read dense 2-D/3-D levels with ``F.grid_sample`` (fast); False uses the explicit gather.
    """

    def __init__(self, in_dim: int, n_levels: int = 8, features_per_level: int = 2, base_resolution: int = 16,
                 finest_resolution: int = 256, log2_hashmap_size: int | None = 19, init_scale: float = 1e-4,
                 use_grid_sample: bool = True):
        super().__init__()
        if in_dim < 1:
            raise ValueError(f"in_dim must be >= 1, got {in_dim}")
        self.in_dim = in_dim
        self.resolutions = level_resolutions(n_levels, base_resolution, finest_resolution)
        size = None if log2_hashmap_size is None else 2 ** int(log2_hashmap_size)
        self.levels = nn.ModuleList(GridLevel(in_dim, r, features_per_level, size, init_scale, use_grid_sample)
                                    for r in self.resolutions)
        self.out_dim = n_levels * features_per_level

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, d) in [0, 1]^d -> (N, L * F)
        if x.ndim != 2 or x.shape[-1] != self.in_dim:
            raise ValueError(f"GridEncoding expected points of shape (N, {self.in_dim}) in [0, 1], "
                             f"got {tuple(x.shape)}; flatten leading axes first")
        return torch.cat([level(x) for level in self.levels], dim=-1)

    def num_rows(self) -> int:
        return sum(level.rows() for level in self.levels)

    def extra_repr(self) -> str:
        hashed = sum(level.hashed for level in self.levels)
        return (f"in_dim={self.in_dim}, levels={len(self.levels)} ({hashed} hashed), "
                f"resolutions={self.resolutions}, out_dim={self.out_dim}")
