import pytest
import torch

from cs180utils.grid_encoding import GridEncoding, GridLevel, corner_weights, level_resolutions


def test_level_resolutions_are_geometric():
    assert level_resolutions(4, 16, 128) == [16, 32, 64, 128]  # b = 2
    assert level_resolutions(1, 8, 64) == [8]
    assert level_resolutions(3, 10, 90) == [10, 30, 90]  # b = 3
    with pytest.raises(ValueError, match="base_resolution"):
        level_resolutions(2, 1, 8)


def test_corner_weights_by_hand_2d():
    # N = 3 vertices per axis (at 0, 0.5, 1): x = (0.25, 0.75) lies in cell (0, 1) at fractions (0.5, 0.5)
    corners, w = corner_weights(torch.tensor([[0.25, 0.75]]), 3)
    assert corners.tolist() == [[[0, 1], [0, 2], [1, 1], [1, 2]]]
    assert torch.allclose(w, torch.full((1, 4), 0.25))
    # the far border (x = 1) stays inside the grid: lower corner N - 2, weight 1 on the last vertex
    corners, w = corner_weights(torch.tensor([[1.0, 0.0]]), 3)
    assert corners[0, w[0].argmax()].tolist() == [2, 0] and float(w.max()) == 1.0


def _dense_level_with_values(d, N, values):
    level = GridLevel(d, N, values.shape[-1])
    with torch.no_grad():  # values (N^d, F) in "x[:, 0] fastest" order -> grid_sample layout (1, F, N, ..., N)
        level.table.copy_(values.t().reshape(1, values.shape[-1], *([N] * d)))
    return level


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("use_grid_sample", [True, False])
def test_linear_function_is_reproduced_exactly(d, use_grid_sample):
    N = 5
    axes = torch.meshgrid(*[torch.arange(N, dtype=torch.float32) / (N - 1)] * d, indexing="ij")
    verts = torch.stack(axes[::-1], dim=-1).reshape(-1, d)  # vertex positions, x[:, 0] fastest
    a = torch.tensor([0.3, -1.2, 2.0][:d])
    level = _dense_level_with_values(d, N, (verts @ a + 0.5)[:, None])
    level.use_grid_sample = use_grid_sample
    x = torch.rand(200, d, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(level(x)[:, 0], x @ a + 0.5, atol=1e-5)
    # on a vertex the lookup returns the stored value itself
    assert torch.allclose(level(verts)[:, 0], verts @ a + 0.5, atol=1e-5)


@pytest.mark.parametrize("d", [2, 3])
def test_grid_sample_and_gather_agree_with_gradients(d):
    g = torch.Generator().manual_seed(1)
    fast, slow = GridLevel(d, 7, 3), GridLevel(d, 7, 3, use_grid_sample=False)
    with torch.no_grad():
        fast.table.copy_(torch.randn(fast.table.shape, generator=g))
        slow.table.copy_(fast.table)
    x = torch.rand(300, d, generator=g)
    a, b = fast(x), slow(x)
    assert torch.allclose(a, b, atol=1e-5)
    w = torch.randn(a.shape, generator=g)
    (a * w).sum().backward()
    (b * w).sum().backward()
    assert torch.allclose(fast.table.grad, slow.table.grad, atol=1e-4)


@pytest.mark.parametrize("d", [2, 3])
def test_points_dealt_to_threads_give_the_same_lookup_and_gradient(d, monkeypatch):
    """grid_sample on a CPU is parallel over batch items only: the points go to one copy of the table per
    thread (3 parts of 1001, 1001, 999 points here, the last padded), with the same values and gradients."""
    g = torch.Generator().manual_seed(2)
    level = GridLevel(d, 9, 2)
    with torch.no_grad():
        level.table.copy_(torch.randn(level.table.shape, generator=g))
    x = torch.rand(3001, d, generator=g)
    w = torch.randn(3001, 2, generator=g)
    results = {}
    for threads in (1, 3):
        monkeypatch.setattr(GridLevel, "MIN_POINTS_PER_PART", 1000)
        monkeypatch.setattr(torch, "get_num_threads", lambda t=threads: t)
        assert level.parts(len(x), x.device) == threads
        level.table.grad = None
        out = level(x)
        (out * w).sum().backward()
        results[threads] = out.detach(), level.table.grad.clone()
    assert torch.equal(results[1][0], results[3][0])
    assert torch.allclose(results[1][1], results[3][1], atol=1e-4)
    monkeypatch.setattr(GridLevel, "MIN_POINTS_PER_PART", 2000)
    assert level.parts(3001, x.device) == 1                               # too few points to share


def test_hash_levels_use_the_spatial_hash():
    enc = GridEncoding(3, n_levels=2, features_per_level=2, base_resolution=4, finest_resolution=64,
                       log2_hashmap_size=10)
    coarse, fine = enc.levels
    assert not coarse.hashed and coarse.rows() == 4 ** 3  # 64 <= 1024 rows: dense, no collisions
    assert fine.hashed and fine.rows() == 1024  # 64^3 > 1024: hashed
    corner = torch.tensor([[1, 2, 3]])
    expected = (1 * 1 ^ 2 * 2654435761 ^ 3 * 805459861) % 1024
    assert int(fine.index(corner)) == expected
    # looking up a vertex of the hashed level returns that vertex's table row
    with torch.no_grad():
        fine.table.copy_(torch.arange(2048, dtype=torch.float32).reshape(1024, 2))
    x = corner.float() / (64 - 1)
    assert torch.allclose(fine(x), fine.table[expected][None], atol=1e-3)


def test_encoding_shapes_and_errors():
    enc = GridEncoding(2, n_levels=3, features_per_level=4, base_resolution=8, finest_resolution=32,
                       log2_hashmap_size=None)
    assert enc.out_dim == 12 and enc.num_rows() == 8 ** 2 + 16 ** 2 + 32 ** 2
    assert enc(torch.rand(10, 2)).shape == (10, 12)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        enc(torch.rand(10, 3))


def test_fits_a_2d_image_quickly():
    """A grid encoding + linear read-out fits a sharp-edged 64x64 image far better than its mean."""
    torch.manual_seed(0)
    n = 64
    yy, xx = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    img = (((xx // 8 + yy // 8) % 2).float() * 0.8 + 0.1)  # 8-pixel checkerboard
    coords = torch.stack([(xx + 0.5) / n, (yy + 0.5) / n], dim=-1).reshape(-1, 2)
    target = img.reshape(-1, 1)
    enc = GridEncoding(2, n_levels=4, features_per_level=2, base_resolution=8, finest_resolution=64,
                       log2_hashmap_size=None, init_scale=1e-2)
    head = torch.nn.Linear(enc.out_dim, 1)
    opt = torch.optim.Adam(list(enc.parameters()) + list(head.parameters()), lr=3e-2)
    first = None
    for _ in range(150):
        loss = torch.mean((head(enc(coords)) - target) ** 2)
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    psnr = -10 * torch.log10(torch.mean((head(enc(coords)) - target) ** 2))
    assert float(loss.detach()) < first / 20
    assert float(psnr) > 25
