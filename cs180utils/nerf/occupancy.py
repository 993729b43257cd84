"""Occupancy grid: which cells of the scene's box can hold matter, so most samples are never evaluated.

Two sources of evidence, combined with AND:

1. **Visual hull** (at the start, from the training images' silhouettes, :mod:`cs180utils.nerf.hull`): a cell
   whose centre projects onto background in *any* training view (inside that view's frame) cannot hold matter.
   A margin (silhouette dilation and one cell of grid dilation) keeps thin parts that a hard threshold would cut.
2. **The field's own density** (during training).  Every ``update_every`` steps the field's density is read at a
   random point in each hull cell; a running maximum with decay (Instant-NGP's rule) keeps cells whose opacity
   over one sample step stays above a threshold.  Cells inside the hull that the field has made empty (concave
   regions, inside of solid parts) are skipped from then on.

``OccupancyGrid.query(points)`` answers (N, 3) -> (N,) bool in a single index lookup; the fast field evaluates
its network only on the points that answer True.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from cs180utils.nerf import hull as H
from cs180utils.nerf.rendering import opacity


class OccupancyGrid(nn.Module):
    """A ``resolution^3`` boolean grid over an axis-aligned box ``aabb`` (2, 3) = [min, max].

    Buffers (saved with the field's state_dict): ``aabb``, ``hull`` (R, R, R) bool (the visual hull, never grows),
    ``mask`` (R, R, R) bool (what ``query`` answers), ``density`` (R, R, R) float (running max of sigma).
    Indexing is ``[ix, iy, iz]`` with ix along world x.
    """

    def __init__(self, aabb: torch.Tensor, resolution: int = 128):
        super().__init__()
        aabb = torch.as_tensor(aabb, dtype=torch.float32).reshape(2, 3)
        if not bool((aabb[1] > aabb[0]).all()):
            raise ValueError(f"aabb must be [[xmin, ymin, zmin], [xmax, ymax, zmax]] with max > min, got {aabb}")
        self.resolution = int(resolution)
        R = self.resolution
        self.register_buffer("aabb", aabb)
        self.register_buffer("hull", torch.ones(R, R, R, dtype=torch.bool))
        self.register_buffer("mask", torch.ones(R, R, R, dtype=torch.bool))
        self.register_buffer("density", torch.zeros(R, R, R))

    # ---- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_silhouettes(cls, masks: torch.Tensor, c2ws: torch.Tensor, focal: float,
                         aabb: torch.Tensor | None = None, resolution: int = 128, dilate_cells: int = 1,
                         min_view_fraction: float = 0.25) -> "OccupancyGrid":
        """The visual hull (:func:`cs180utils.nerf.hull.visual_hull`) of foreground ``masks`` (B, H, W) seen by
        cameras ``c2ws`` (B, 4, 4), over ``aabb`` (default: :func:`cs180utils.nerf.hull.estimate_aabb` of the
        same masks), grown by ``dilate_cells`` cells.  If the hull comes out empty (e.g. the background is not
        black), the grid keeps the whole box occupied and says so.
        """
        masks, c2ws = torch.as_tensor(masks, dtype=torch.bool), torch.as_tensor(c2ws, dtype=torch.float32)
        if aabb is None:
            aabb = H.estimate_aabb(masks, c2ws, focal)
        grid = cls(aabb, resolution)
        hull = H.visual_hull(masks, c2ws, focal, grid.aabb, resolution, min_view_fraction)
        if dilate_cells > 0:
            k = 2 * dilate_cells + 1
            hull = F.max_pool3d(hull[None, None].float(), k, stride=1, padding=dilate_cells)[0, 0] > 0
        if not hull.any():
            print("occupancy: the visual hull is empty (is the background black?); keeping the whole box "
                  "occupied", flush=True)
            hull = torch.ones_like(hull)
        grid.hull.copy_(hull)
        grid.mask.copy_(hull)
        return grid

    # ---- geometry -----------------------------------------------------------------------------------------
    def cell_size(self) -> torch.Tensor:
        return (self.aabb[1] - self.aabb[0]) / self.resolution  # (3,)

    def cell_centers(self) -> torch.Tensor:
        """(R, R, R, 3) world coordinates of the cell centres."""
        return H.cell_centers(self.aabb, self.resolution)

    def normalize(self, points: torch.Tensor) -> torch.Tensor:
        """World points (N, 3) -> box coordinates in [0, 1]^3 (outside the box: outside [0, 1])."""
        return (points - self.aabb[0]) / (self.aabb[1] - self.aabb[0])

    def cell_index(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 3) -> flat cell index (N,) long (clamped) and whether the point is inside the box (N,) bool."""
        unit = self.normalize(points)
        inside = ((unit >= 0) & (unit < 1)).all(-1)
        ijk = (unit * self.resolution).long().clamp(0, self.resolution - 1)  # (N, 3)
        R = self.resolution
        return (ijk[:, 0] * R + ijk[:, 1]) * R + ijk[:, 2], inside

    def query(self, points: torch.Tensor) -> torch.Tensor:
        """(N, 3) world points -> (N,) bool: inside the box and in an occupied cell."""
        flat, inside = self.cell_index(points)
        return inside & self.mask.reshape(-1)[flat]

    @torch.no_grad()
    def ray_bounds(self, rays_o: torch.Tensor, rays_d: torch.Tensor, t_near: torch.Tensor, t_far: torch.Tensor,
                   hit: torch.Tensor, pool: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Shrink each ray's [t_near, t_far] (R,) to the span it spends in occupied cells.

        The ray is probed every half cell of the mask max-pooled by ``pool`` (conservative); the span runs from
        one probe step before the first occupied probe to one after the last.  Rays that meet no occupied cell
        get ``hit = False`` (they see only the background).  The field is zero outside occupied cells, so this
        changes only where the samples go (all of them now land where something can be), not what is rendered.
        """
        coarse = self._pooled_mask(pool)  # (r, r, r)
        r = coarse.shape[0]
        size = self.aabb[1] - self.aabb[0]
        span = (t_far - t_near).clamp_min(0.0)  # (R,)
        if span.numel() == 0 or float(span.max()) <= 0:
            return t_near, t_far, hit & False
        n_probe = max(2, math.ceil(float(span.max()) / (0.5 * float(size.min()) / r)))
        dt = span / n_probe  # (R,)
        t = t_near[:, None] + dt[:, None] * (torch.arange(n_probe, device=span.device, dtype=span.dtype) + 0.5)
        unit = (rays_o[:, None, :] + t[..., None] * rays_d[:, None, :] - self.aabb[0]) / size  # (R, P, 3)
        ijk = (unit * r).long().clamp_(0, r - 1)
        occ = coarse.reshape(-1)[(ijk[..., 0] * r + ijk[..., 1]) * r + ijk[..., 2]]  # (R, P)
        any_occ = occ.any(-1)
        first = occ.byte().argmax(-1)  # (R,) first occupied probe
        last = n_probe - 1 - occ.flip(-1).byte().argmax(-1)  # (R,) last occupied probe
        new_near = torch.maximum(t_near, t_near + (first - 1).to(dt.dtype) * dt)
        new_far = torch.minimum(t_far, t_near + (last + 2).to(dt.dtype) * dt)
        hit = hit & any_occ
        return torch.where(hit, new_near, t_near), torch.where(hit, new_far, t_near), hit

    def _pooled_mask(self, pool: int) -> torch.Tensor:
        """``mask`` max-pooled by ``pool`` (cached until the mask changes)."""
        key = (pool, self.mask.data_ptr(), self.mask._version)  # torch bumps _version on in-place changes
        if getattr(self, "_pooled_key", None) != key:
            m = self.mask[None, None].float()
            self._pooled = (F.max_pool3d(m, pool, stride=pool, ceil_mode=True)[0, 0] > 0) if pool > 1 else self.mask
            self._pooled_key = key
        return self._pooled

    def occupied_fraction(self) -> float:
        return float(self.mask.float().mean())

    # ---- training-time update -----------------------------------------------------------------------------
    @torch.no_grad()
    def update(self, density_fn: Callable[[torch.Tensor], torch.Tensor], step_size: float,
               decay: float = 0.95, alpha_threshold: float = 0.01, chunk: int = 1 << 18,
               generator: torch.Generator | None = None) -> float:
        """Refresh ``mask`` from the field's density at one random point per hull cell.

        ``density_fn``: (N, 3) world points -> (N,) sigma.  A cell stays occupied while the running maximum
        ``density = max(decay * density, sigma)`` gives an opacity over one ``step_size`` (:func:`rendering.opacity`) above
        ``alpha_threshold`` (capped at the mean opacity over the hull, so a still-faint field keeps its
        brightest cells).  Returns the occupied fraction of the box.
        """
        cells = self.hull.reshape(-1).nonzero()[:, 0]  # (C,)
        R = self.resolution
        ijk = torch.stack([cells // (R * R), (cells // R) % R, cells % R], dim=-1).float()  # (C, 3)
        jitter = torch.rand(ijk.shape, generator=generator, device=ijk.device) if generator is not None \
            else torch.rand_like(ijk)
        points = self.aabb[0] + (ijk + jitter) * self.cell_size()  # (C, 3)
        sigma = torch.cat([density_fn(points[i:i + chunk]).reshape(-1) for i in range(0, len(points), chunk)])
        flat = self.density.reshape(-1)
        flat[cells] = torch.maximum(flat[cells] * decay, sigma.float())
        alpha = opacity(flat[cells], step_size)  # (C,) the course's alpha over one step
        threshold = min(alpha_threshold, float(alpha.mean()))
        new = torch.zeros_like(flat, dtype=torch.bool)
        new[cells] = alpha > threshold
        self.mask.copy_(new.reshape(R, R, R))
        return self.occupied_fraction()

    def extra_repr(self) -> str:
        return (f"resolution={self.resolution}, aabb={[round(v, 3) for v in self.aabb.flatten().tolist()]}, "
                f"hull={float(self.hull.float().mean()):.3f}, occupied={self.occupied_fraction():.3f}")
