import pytest
import torch

from cs180utils.nerf.hull import silhouettes
from cs180utils.nerf.occupancy import OccupancyGrid

RADIUS = 0.5  # the ball of the ball_views fixture (conftest.py)


def test_visual_hull_box_and_fraction(ball_views):
    imgs, c2ws, focal = ball_views()
    grid = OccupancyGrid.from_silhouettes(silhouettes(imgs), c2ws, focal, resolution=32, dilate_cells=0)  # 1-px margin
    # the box found from the silhouettes hugs the ball (with its margin and the hull's looseness)
    assert torch.all(grid.aabb[0] < -RADIUS + 0.02) and torch.all(grid.aabb[0] > -0.8)
    assert torch.all(grid.aabb[1] > RADIUS - 0.02) and torch.all(grid.aabb[1] < 0.8)
    # the hull holds every cell of the ball (conservative) and not much more
    in_ball = grid.cell_centers().norm(dim=-1) < RADIUS
    assert bool(grid.mask[in_ball].all())
    assert grid.occupied_fraction() < 1.6 * float(in_ball.float().mean())
    assert grid.query(torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 5.0]])).tolist() == [True, False]


def test_empty_hull_keeps_everything_with_a_notice(capsys, ball_views):
    imgs, c2ws, focal = ball_views(n=4)
    grid = OccupancyGrid.from_silhouettes(silhouettes(imgs * 0), c2ws, focal,
                                          aabb=torch.tensor([[-1.0] * 3, [1.0] * 3]), resolution=8)
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
