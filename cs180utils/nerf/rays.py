"""Cameras and rays: intrinsics K, pixel -> camera -> world, and one ray per pixel.

Conventions (the course's and the lego file's): OpenCV camera axes (x right, y down, z forward), pixel
``(u, v)`` = (column, row) with the pixel *centre* at ``(j + 0.5, i + 0.5)``, principal point at ``(W/2, H/2)``,
``c2w`` a (4, 4) camera-to-world matrix. Everything is batched over leading axes.
"""
from __future__ import annotations

import torch


def intrinsics(focal: float, H: int, W: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """K (3, 3) for a pinhole camera with focal length ``focal`` (pixels) and principal point (W/2, H/2)."""
    # BEGIN SOLUTION pixel_to_camera
    return torch.tensor([[focal, 0.0, W / 2.0], [0.0, focal, H / 2.0], [0.0, 0.0, 1.0]], dtype=dtype, device=device)
    # END SOLUTION


def transform(c2w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply the rigid transform ``c2w`` (..., 4, 4) to points ``x`` (..., 3) -> (..., 3) (camera -> world)."""
    # BEGIN SOLUTION camera_to_world
    return (c2w[..., :3, :3] @ x[..., None])[..., 0] + c2w[..., :3, 3]
    # END SOLUTION


def pixel_to_camera(K: torch.Tensor, uv: torch.Tensor, s: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Pixel ``uv`` (..., 2) at depth ``s`` (along the camera's z) -> camera-frame point (..., 3): s K^-1 [u, v, 1]."""
    # BEGIN SOLUTION pixel_to_camera
    uv1 = torch.cat((uv, torch.ones_like(uv[..., :1])), dim=-1)  # (..., 3)
    x = (torch.linalg.inv(K) @ uv1[..., None])[..., 0]
    s = torch.as_tensor(s, dtype=uv.dtype, device=uv.device)
    return x * (s[..., None] if s.ndim else s)
    # END SOLUTION


def world_to_pixel(K: torch.Tensor, c2w: torch.Tensor, x_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """World points (..., 3) -> (pixel uv (..., 2), depth along the camera's z (...,)). Inverse of the two above."""
    w2c = torch.linalg.inv(c2w)
    x_c = transform(w2c, x_w)  # (..., 3)
    proj = (K @ x_c[..., None])[..., 0]
    return proj[..., :2] / proj[..., 2:3], x_c[..., 2]


def pixel_to_ray(K: torch.Tensor, c2w: torch.Tensor, uv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rays through pixels ``uv`` (..., 2) of cameras ``c2w`` (..., 4, 4) (broadcast).

    Returns ``rays_o`` (..., 3), the camera centre, and ``rays_d`` (..., 3), unit directions in world space.
    """
    # BEGIN SOLUTION pixel_to_ray
    x_c = pixel_to_camera(K, uv, 1.0)  # (..., 3) point at depth 1
    x_w = transform(c2w, x_c)
    rays_o = c2w[..., :3, 3].expand(x_w.shape)
    d = x_w - rays_o
    return rays_o, d / torch.linalg.norm(d, dim=-1, keepdim=True)
    # END SOLUTION


def pixel_grid(H: int, W: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """Pixel centres (H, W, 2) as (u, v) = (column + 0.5, row + 0.5)."""
    # BEGIN SOLUTION pixel_centres
    v, u = torch.meshgrid(torch.arange(H, dtype=dtype, device=device) + 0.5,
                          torch.arange(W, dtype=dtype, device=device) + 0.5, indexing="ij")
    return torch.stack((u, v), dim=-1)
    # END SOLUTION


def image_rays(focal: float, c2w: torch.Tensor, H: int, W: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All rays of one camera ``c2w`` (4, 4): ``rays_o, rays_d`` each (H, W, 3)."""
    K = intrinsics(focal, H, W, dtype=c2w.dtype, device=c2w.device)
    return pixel_to_ray(K, c2w, pixel_grid(H, W, c2w.dtype, c2w.device))


def random_rays(images: torch.Tensor, c2ws: torch.Tensor, focal: float, n: int,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` rays drawn uniformly over the pixels of all images (B, H, W, 3) with cameras c2ws (B, 4, 4).

    Returns ``rays_o`` (R, 3), ``rays_d`` (R, 3) and the pixels' colours (R, 3). The draw uses ``generator``
    on the CPU so the same seed gives the same rays on any device.
    """
    B, H, W, _ = images.shape
    flat = torch.randint(0, B * H * W, (n,), generator=generator).to(images.device)  # (R,)
    b, i, j = torch.unravel_index(flat, (B, H, W))  # (R,) each: image, row, column
    # BEGIN SOLUTION pixel_centres
    uv = torch.stack((j, i), dim=-1).to(c2ws.dtype) + 0.5  # (R, 2)
    # END SOLUTION
    K = intrinsics(focal, H, W, dtype=c2ws.dtype, device=c2ws.device)
    rays_o, rays_d = pixel_to_ray(K, c2ws[b], uv)
    return rays_o, rays_d, images[b, i, j]
