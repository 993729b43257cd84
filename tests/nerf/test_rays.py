import math

import pytest
import torch

from cs180utils.nerf import rays as R
from cs180utils.nerf.scene import look_at


def _cam():
    return look_at(torch.tensor([3.0, -2.0, 1.5]))


def test_principal_point_ray_runs_along_camera_z():
    K = R.intrinsics(100.0, 40, 60)
    c2w = _cam()
    o, d = R.pixel_to_ray(K, c2w, torch.tensor([30.0, 20.0]))  # (W/2, H/2)
    assert torch.allclose(o, c2w[:3, 3])
    assert torch.allclose(d, c2w[:3, 2], atol=1e-6)
    # that camera looks at the origin
    assert torch.allclose(d, -c2w[:3, 3] / c2w[:3, 3].norm(), atol=1e-6)


def test_pixel_to_camera_by_hand():
    K = R.intrinsics(2.0, 4, 4)  # principal point (2, 2)
    x = R.pixel_to_camera(K, torch.tensor([[4.0, 2.0], [2.0, 0.0]]), 3.0)
    assert torch.allclose(x, torch.tensor([[3.0, 0.0, 3.0], [0.0, -3.0, 3.0]]))  # (u-cx)/f * s, y down


def test_world_pixel_ray_round_trip():
    g = torch.Generator().manual_seed(0)
    K = R.intrinsics(277.8, 200, 200)
    c2w = _cam()
    pts = torch.randn(50, 3, generator=g) * 0.5
    uv, z = R.world_to_pixel(K, c2w, pts)
    assert (z > 0).all()
    o, d = R.pixel_to_ray(K, c2w, uv)
    t = ((pts - o) * d).sum(-1)  # distance along the ray to the closest point
    assert torch.allclose(o + t[:, None] * d, pts, atol=1e-4)
    assert torch.allclose(d.norm(dim=-1), torch.ones(50), atol=1e-6)


def test_batched_over_cameras_and_pixel_centres():
    c2ws = torch.stack([_cam(), look_at(torch.tensor([0.0, 4.0, 1.0]))])
    o, d = R.image_rays(50.0, c2ws[1], 8, 6)
    assert o.shape == d.shape == (8, 6, 3)
    # pixel (0, 0)'s centre is (0.5, 0.5): direction matches K^-1 of that centre
    K = R.intrinsics(50.0, 8, 6)
    _, d00 = R.pixel_to_ray(K, c2ws[1], torch.tensor([0.5, 0.5]))
    assert torch.allclose(d[0, 0], d00)
    ob, db = R.pixel_to_ray(K, c2ws[:, None], R.pixel_grid(8, 6).reshape(1, -1, 2))  # (2, 48, 3)
    assert db.shape == (2, 48, 3) and torch.allclose(db[1], d.reshape(-1, 3), atol=1e-6)


def test_random_rays_colours_match_their_pixels():
    B, H, W = 3, 5, 7
    b, i, j = torch.meshgrid(torch.arange(B), torch.arange(H), torch.arange(W), indexing="ij")
    images = torch.stack((b, i, j), dim=-1).float()  # each pixel's colour names it
    c2ws = torch.stack([look_at(torch.tensor([3.0, -2.0, 1.5 + k])) for k in range(B)])
    o, d, rgb = R.random_rays(images, c2ws, 10.0, 64, torch.Generator().manual_seed(2))
    K = R.intrinsics(10.0, H, W)
    bb, ii, jj = rgb.long().unbind(-1)
    assert len(set(bb.tolist())) == B  # rays come from all images
    o2, d2 = R.pixel_to_ray(K, c2ws[bb], torch.stack((jj, ii), -1).float() + 0.5)
    assert torch.allclose(o, o2) and torch.allclose(d, d2, atol=1e-6)
