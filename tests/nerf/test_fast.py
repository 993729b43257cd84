import pytest
import torch

from cs180utils.nerf import experiment as E
from cs180utils.nerf import fast
from cs180utils.nerf.fast import FastField, FastFieldConfig
from cs180utils.nerf.occupancy import OccupancyGrid
from cs180utils.nerf.scene import generate_scene

SMALL = FastFieldConfig(density_levels=2, density_base=8, density_finest=16, n_levels=2, features_per_level=2,
                        base_resolution=4, finest_resolution=8, hidden=8, occupancy_resolution=8)


def _field(seed=0):
    torch.manual_seed(seed)
    grid = OccupancyGrid(torch.tensor([[-1.0] * 3, [1.0] * 3]), resolution=8)
    grid.mask.zero_()
    grid.mask[4:, :, :] = True  # only x >= 0 can hold matter
    return FastField(grid, SMALL, step_size=0.05)


def test_contract_shapes_ranges_and_skipping():
    f = _field()
    g = torch.Generator().manual_seed(0)
    pts = torch.rand(500, 3, generator=g) * 2.4 - 1.2  # some outside the box
    dirs = torch.nn.functional.normalize(torch.randn(500, 3, generator=g), dim=-1)
    sigma, rgb = f(pts, dirs)
    assert sigma.shape == (500,) and rgb.shape == (500, 3)
    assert bool((sigma >= 0).all()) and bool((rgb >= 0).all()) and bool((rgb <= 1).all())
    occupied = f.occupancy.query(pts)
    assert bool((sigma[~occupied] == 0).all()) and bool((rgb[~occupied] == 0).all())
    assert bool((sigma[occupied] > 0).all())  # softplus: never exactly 0 where evaluated
    assert f.last_eval_fraction == pytest.approx(float(occupied.float().mean()))
    # skipping changes nothing where the field is evaluated
    f.skip_empty = False
    sigma_all, rgb_all = f(pts, dirs)
    assert torch.allclose(sigma_all[occupied], sigma[occupied])
    assert torch.allclose(rgb_all[occupied], rgb[occupied], atol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        f(pts[None], dirs[None])


def test_no_gradient_reaches_grid_cells_no_sample_touched():
    f = _field()
    pts = torch.tensor([[0.5, 0.5, 0.5], [-0.5, -0.5, -0.5]])  # the second is in an empty cell
    dirs = torch.tensor([[0.0, 0.0, 1.0]] * 2)
    sigma, rgb = f(pts, dirs)
    (sigma.sum() + rgb.sum()).backward()
    g = f.density_grid.levels[-1].table.grad[0, 0]  # (z, y, x) layout of grid_sample
    assert g.abs().sum() > 0
    assert float(g[:, :, :7].abs().sum()) == 0.0  # x < 0 half of the finest density grid: untouched


def test_ray_bounds_shrink_to_occupied_span():
    f = _field()
    o = torch.tensor([[-3.0, 0.1, 0.1], [-3.0, 0.1, 5.0]])  # along +x through the box; the second misses it
    d = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    tn, tf, hit = torch.tensor([2.0, 2.0]), torch.tensor([4.0, 4.0]), torch.tensor([True, False])
    n, fa, h = f.ray_bounds(o, d, tn, tf, hit)
    assert h.tolist() == [True, False]
    # occupied x in [0, 1] <-> t in [3, 4]; conservative by at most a probe step or two (coarse cells: 0.5)
    assert 2.4 <= float(n[0]) <= 3.0 and float(fa[0]) == pytest.approx(4.0)


def test_presets_are_nerf_configs_and_build_from_scene():
    for profile in ("smoke", "cpu", "full"):
        cfg = E.config("fast", profile)
        assert cfg.model == "fast" and cfg.sample_in_aabb
        assert isinstance(cfg.fast, FastFieldConfig), f"{profile}: the fast options are a FastFieldConfig"
    scene = generate_scene(size=24, n_train=12, n_val=2, n_test=2)
    cfg = E.config("fast", "smoke")
    field = fast.build_field(cfg, scene)
    assert isinstance(field, FastField)
    assert 0.01 < field.occupancy.occupied_fraction() < 0.9  # the hull removed part of the box
    assert torch.allclose(field.occupancy.aabb, scene.aabb())


def test_training_raises_psnr_and_resumes(tmp_path):
    """Smoke-profile training on a small generated scene: PSNR rises; the checkpoint restores the field
    (grids, occupancy box, hull and mask) exactly."""
    scene = generate_scene(size=32, n_train=16, n_val=2, n_test=2)
    cfg = E.config("fast", "smoke", steps=80, image_size=32, eval_every=40, val_views=None)
    before = E.evaluate(E.build_model(cfg, scene, scene.aabb()), scene)["psnr"]
    res = E.train(cfg, scene, tmp_path, progress=False)
    assert res["val_psnr"] > before + 3, (before, res["val_psnr"])
    model, cfg2, _ = E.load_trained(res["checkpoint"])
    assert cfg2.model == "fast"
    assert torch.allclose(model.field.occupancy.aabb, scene.aabb())
    assert E.evaluate(model, scene)["psnr"] == pytest.approx(res["val_psnr"], abs=1e-3)
    again = E.train(cfg, scene, tmp_path, progress=False)  # finished run: resumes and returns at once
    assert again["steps"] == res["steps"] and again["val_psnr"] == pytest.approx(res["val_psnr"], abs=1e-3)


def test_lego_short_training_floor(real_data_dir, tmp_path):
    """On lego at 50x50, 120 smoke-sized steps already reach a PSNR well above the blank image's (~11 dB)."""
    from cs180utils.nerf.scene import load_scene
    scene = load_scene(real_data_dir / "lego_200x200.npz").resized(50)
    cfg = E.config("fast", "smoke", steps=120, eval_every=120, val_views=None)
    res = E.train(cfg, scene, tmp_path, progress=False)
    assert res["val_psnr"] > 18, res["val_psnr"]
