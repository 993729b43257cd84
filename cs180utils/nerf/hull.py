"""The visual hull, once: foreground silhouettes, space carving, and the object's box.

The course's scenes sit on a known uniform background (black), so every training pixel says "this ray hits the
object" or "it does not".  A point that projects onto background in *any* training view that sees it cannot hold
matter: carve it.  With ~100 views this removes most of space before a single training step.

- :func:`silhouettes`: foreground masks (B, H, W) of the training images (one threshold, one dilation);
- :func:`carve`: which world points survive the masks;
- :func:`visual_hull`: the surviving cells of a grid over a box;
- :func:`estimate_aabb`: the object's axis-aligned box, from a coarse hull in a cube around the cameras' look-at
  point.

Used by :meth:`cs180utils.nerf.scene.Scene.aabb` (the box the ``cpu`` profile samples in) and by the fast field's
occupancy grid (:meth:`cs180utils.nerf.occupancy.OccupancyGrid.from_silhouettes`), from the same masks.
"""
from __future__ import annotations

import math
import sys

import torch
import torch.nn.functional as F

from cs180utils.nerf import rays as R


def silhouettes(images: torch.Tensor, background: float = 0.0, threshold: float = 0.02,
                dilate_px: int = 1) -> torch.Tensor:
    """Foreground masks from images on a known uniform background.

    images: (B, H, W, 3) uint8 or float in [0, 1]; returns (B, H, W) bool, True where any channel differs from
    ``background`` by more than ``threshold``, then grown by ``dilate_px`` pixels (to keep edges conservative).
    """
    if images.ndim != 4 or images.shape[-1] not in (3, 4):
        raise ValueError(f"silhouettes expects images (B, H, W, 3), got {tuple(images.shape)}")
    img = images[..., :3].float()
    if images.dtype == torch.uint8:
        img = img / 255.0
    mask = (img - background).abs().amax(-1) > threshold  # (B, H, W)
    if dilate_px > 0:
        k = 2 * dilate_px + 1
        mask = F.max_pool2d(mask[:, None].float(), k, stride=1, padding=dilate_px)[:, 0] > 0
    return mask


def carve(points: torch.Tensor, masks: torch.Tensor, c2ws: torch.Tensor, focal: float,
          max_misses: int = 0, min_views: int = 1) -> torch.Tensor:
    """Visual-hull test of world points against foreground masks (OpenCV cameras: x right, y down, z forward).

    points: (P, 3); masks: (B, H, W) bool; c2ws: (B, 4, 4); principal point at (W/2, H/2).
    Returns (P,) bool: True where the point projects onto foreground in every view that sees it
    (allowing ``max_misses`` background hits, for robustness to dark foreground pixels) and at least
    ``min_views`` views see it (a point no camera sees never affects a training pixel).
    """
    B, H, W = masks.shape
    w2c = torch.linalg.inv(c2ws.double()).float()  # (B, 4, 4)
    proj = R.intrinsics(focal, H, W) @ w2c[:, :3, :]  # (B, 3, 4): world (homogeneous) -> (u z, v z, z)
    flat_masks = masks.reshape(-1)
    misses = torch.zeros(points.shape[0], dtype=torch.int32, device=points.device)
    seen = torch.zeros(points.shape[0], dtype=torch.int32, device=points.device)
    alive = torch.arange(points.shape[0], device=points.device)
    views_per_batch = 8
    for b0 in range(0, B, views_per_batch):
        P = proj[b0:b0 + views_per_batch]  # (V, 3, 4)
        p = points[alive]  # (A, 3)
        uvz = torch.einsum("vij,aj->avi", P[:, :, :3], p) + P[:, :, 3]  # (A, V, 3)
        z = uvz[..., 2]
        u = uvz[..., 0] / z.clamp(min=1e-6)  # pixel coordinates; pixel i covers [i, i + 1)
        v = uvz[..., 1] / z.clamp(min=1e-6)
        inside = (z > 0) & (u >= 0) & (u < W) & (v >= 0) & (v < H)  # (A, V)
        view = torch.arange(b0, b0 + P.shape[0], device=points.device)
        pix = (view * H + v.long().clamp(0, H - 1)) * W + u.long().clamp(0, W - 1)  # (A, V)
        background = inside & ~flat_masks[pix]
        misses[alive] += background.sum(1, dtype=torch.int32)
        seen[alive] += inside.sum(1, dtype=torch.int32)
        alive = alive[misses[alive] <= max_misses]
        if alive.numel() == 0:
            break
    return (misses <= max_misses) & (seen >= min_views)


def cell_centers(aabb: torch.Tensor, resolution: int) -> torch.Tensor:
    """(R, R, R, 3) world coordinates of the centres of a ``resolution``^3 grid over ``aabb`` (2, 3) = [min, max],
    indexed ``[ix, iy, iz]`` with ix along world x."""
    ticks = (torch.arange(resolution, device=aabb.device, dtype=torch.float32) + 0.5) / resolution  # (R,)
    unit = torch.stack(torch.meshgrid(ticks, ticks, ticks, indexing="ij"), dim=-1)  # (R, R, R, 3)
    return aabb[0] + unit * (aabb[1] - aabb[0])


def visual_hull(masks: torch.Tensor, c2ws: torch.Tensor, focal: float, aabb: torch.Tensor, resolution: int,
                min_view_fraction: float = 0.25) -> torch.Tensor:
    """The cells (R, R, R) bool of a ``resolution``^3 grid over ``aabb`` (2, 3) whose centres survive
    :func:`carve`; a cell must be inside at least ``min_view_fraction`` of the frames (cells near the cameras,
    seen by a few views only, would otherwise survive)."""
    min_views = max(1, math.ceil(min_view_fraction * len(masks)))
    keep = carve(cell_centers(aabb, resolution).reshape(-1, 3), masks, c2ws, focal, 0, min_views)
    return keep.reshape(resolution, resolution, resolution)


def look_center(c2ws: torch.Tensor) -> torch.Tensor:
    """The point (3,) closest, in least squares, to all cameras' optical axes (B, 4, 4)."""
    o, d = c2ws[:, :3, 3].double(), F.normalize(c2ws[:, :3, 2].double(), dim=-1)
    P = torch.eye(3, dtype=torch.float64) - d[:, :, None] * d[:, None, :]  # (B, 3, 3) projectors
    return torch.linalg.solve(P.sum(0), (P @ o[..., None]).sum(0))[:, 0].float()


def estimate_aabb(masks: torch.Tensor, c2ws: torch.Tensor, focal: float, resolution: int = 96,
                  margin: float = 0.05, reach: float = 0.6) -> torch.Tensor:
    """The object's axis-aligned box (2, 3) = [min, max] from foreground ``masks`` (B, H, W) and cameras ``c2ws``.

    A coarse :func:`visual_hull` (``resolution``^3 cells) in the cube around the cameras' :func:`look_center`
    reaching ``reach`` of the nearest camera's distance; the box spans the centres of its occupied cells, grown
    by one cell and then by ``margin`` of its size, within the cube. When nothing survives (the background is not black?) the box is
    the whole cube, with a notice.
    """
    centre = look_center(c2ws)
    half = reach * float((c2ws[:, :3, 3] - centre).norm(dim=-1).min())
    cube = torch.stack((centre - half, centre + half))  # (2, 3)
    occ = visual_hull(masks, c2ws, focal, cube, resolution)
    if not occ.any():
        print("visual hull: nothing survives the silhouettes (is the background black?); using the whole cube "
              "around the cameras as the object's box", file=sys.stderr)
        return cube
    cell = (cube[1] - cube[0]) / resolution
    idx = occ.nonzero()
    lo = cube[0] + (idx.amin(0) - 0.5) * cell  # the lowest occupied centre (+ 0.5 cell) - one cell
    hi = cube[0] + (idx.amax(0) + 1.5) * cell
    pad = margin * (hi - lo)
    return torch.stack((torch.maximum(lo - pad, cube[0]), torch.minimum(hi + pad, cube[1])))
