import pytest
import torch

from cs180utils.nerf import rays as R
from cs180utils.nerf.occupancy import OccupancyGrid, carve, silhouettes
from cs180utils.nerf.scene import sphere_cameras

RADIUS = 0.5  # a ball at the origin, seen by cameras at distance 4


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


def test_silhouettes_threshold_and_dilation():
    img = torch.zeros(1, 7, 7, 3, dtype=torch.uint8)
    img[0, 3, 3] = torch.tensor([0, 40, 0], dtype=torch.uint8)  # 40/255 = 0.16 > 0.02
    img[0, 0, 0] = torch.tensor([2, 2, 2], dtype=torch.uint8)  # 0.008: background noise
    assert silhouettes(img, dilate_px=0)[0].nonzero().tolist() == [[3, 3]]
    grown = silhouettes(img, dilate_px=1)[0]
    assert int(grown.sum()) == 9 and bool(grown[2:5, 2:5].all())
    with pytest.raises(ValueError, match="B, H, W, 3"):
        silhouettes(torch.zeros(7, 7, 3))


def test_carve_keeps_the_ball_and_removes_the_rest():
    imgs, c2ws, focal = _ball_views()
    masks = silhouettes(imgs, dilate_px=0)
    inside = torch.tensor([[0.0, 0.0, 0.0], [0.3, -0.2, 0.2], [0.0, 0.0, -0.45]])
    outside = torch.tensor([[0.9, 0.0, 0.0], [0.0, 0.7, 0.3], [0.5, 0.5, 0.5]])
    keep = carve(torch.cat([inside, outside]), masks, c2ws, focal)
    assert keep.tolist() == [True, True, True, False, False, False]
    # a point no camera sees is carved too (it can never explain a training pixel)
    assert not carve(torch.tensor([[0.0, 0.0, 30.0]]), masks, c2ws, focal).item()


def test_visual_hull_box_and_fraction():
    imgs, c2ws, focal = _ball_views()
    grid = OccupancyGrid.from_silhouettes(imgs, c2ws, focal, resolution=32, dilate_cells=0)  # 1-pixel margin
    # the box found from the silhouettes hugs the ball (with its margin and the hull's looseness)
    assert torch.all(grid.aabb[0] < -RADIUS + 0.02) and torch.all(grid.aabb[0] > -0.8)
    assert torch.all(grid.aabb[1] > RADIUS - 0.02) and torch.all(grid.aabb[1] < 0.8)
    # the hull holds every cell of the ball (conservative) and not much more
    in_ball = grid.cell_centers().norm(dim=-1) < RADIUS
    assert bool(grid.mask[in_ball].all())
    assert grid.occupied_fraction() < 1.6 * float(in_ball.float().mean())
    assert grid.query(torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 5.0]])).tolist() == [True, False]


def test_empty_hull_keeps_everything_with_a_notice(capsys):
    imgs, c2ws, focal = _ball_views(n=4)
    grid = OccupancyGrid.from_silhouettes(imgs * 0, c2ws, focal, aabb=torch.tensor([[-1.0] * 3, [1.0] * 3]),
                                          resolution=8)
    assert grid.occupied_fraction() == 1.0
    assert "visual hull is empty" in capsys.readouterr().out


def test_query_by_hand():
    grid = OccupancyGrid(torch.tensor([[0.0, 0.0, 0.0], [4.0, 4.0, 4.0]]), resolution=4)  # unit cells
    grid.mask.zero_()
    grid.mask[1, 2, 3] = True  # the cell [1, 2) x [2, 3) x [3, 4)
    pts = torch.tensor([[1.5, 2.5, 3.5], [1.0, 2.0, 3.0], [0.5, 2.5, 3.5], [1.5, 2.5, 4.5]])
    assert grid.query(pts).tolist() == [True, True, False, False]  # the last one is outside the box
    with pytest.raises(ValueError, match="max > min"):
        OccupancyGrid(torch.tensor([[0.0, 0.0, 0.0], [1.0, -1.0, 1.0]]))


def test_update_prunes_to_where_the_density_is():
    grid = OccupancyGrid(torch.tensor([[-1.0] * 3, [1.0] * 3]), resolution=16)
    grid.hull[:, :, 12:] = False  # the hull is never grown by the density
    grid.mask.copy_(grid.hull)

    def density(p):  # a dense ball of radius 0.3 at (0.5, 0, 0), nothing elsewhere
        return 100.0 * ((p - torch.tensor([0.5, 0.0, 0.0])).norm(dim=-1) < 0.3).float()

    frac = grid.update(density, step_size=0.02, generator=torch.Generator().manual_seed(0))
    assert frac == grid.occupied_fraction()
    ball_cells = 4 / 3 * 3.1416 * 0.3 ** 3 / (2 / 16) ** 3  # ~58 cells
    assert 0.5 * ball_cells < int(grid.mask.sum()) < 2.5 * ball_cells
    assert bool((grid.mask <= grid.hull).all())
    assert grid.query(torch.tensor([[0.5, 0.0, 0.0], [-0.5, 0.0, 0.0]])).tolist() == [True, False]
    # decay: once the density is gone, the running maximum falls by `decay` per update
    for _ in range(10):
        grid.update(lambda p: torch.zeros(len(p)), step_size=0.02, decay=0.9)
    assert float(grid.density.max()) == pytest.approx(100.0 * 0.9 ** 10, rel=1e-4)
