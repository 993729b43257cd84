"""Fixtures of the NeRF tests."""
import pytest
import torch

from cs180utils.nerf import rays as R
from cs180utils.nerf.scene import sphere_cameras

RADIUS = 0.5  # the ball of ball_views: at the origin, seen by cameras at distance 4


def _ball_views(n=24, size=40, focal=60.0):
    """Images (n, size, size, 3) of a white ball of radius RADIUS on black, by exact ray/sphere tests."""
    c2ws = sphere_cameras(n, 4.0, seed=3)
    imgs = []
    for c2w in c2ws:
        o, d = R.image_rays(focal, c2w, size, size)  # (H, W, 3)
        b = (o * d).sum(-1)
        hit = b * b - ((o * o).sum(-1) - RADIUS ** 2) >= 0  # (H, W)
        imgs.append(hit[..., None].expand(size, size, 3).float())
    return torch.stack(imgs), c2ws, focal


@pytest.fixture
def ball_views():
    """``ball_views(n=24, size=40, focal=60.0)`` -> images (n, size, size, 3), c2ws (n, 4, 4), focal."""
    return _ball_views
