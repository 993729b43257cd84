import dataclasses

import pytest
import torch

from cs180utils.machinery.nerf import experiment as E
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


def test_density_unit_step_divides_by_the_step_size():
    """density_unit="step": the softplus is the optical thickness of one step of 0.05, so sigma = softplus / 0.05.
    With zero grids: softplus(-5.5) = 0.0040784 per step, sigma 0.081569; "world" gives 0.00408 itself."""
    torch.manual_seed(0)
    grid = OccupancyGrid(torch.tensor([[-1.0] * 3, [1.0] * 3]), resolution=8)
    pts = torch.tensor([[0.1, 0.2, 0.3]])
    sig = {}
    for unit in ("world", "step"):
        f = FastField(grid, dataclasses.replace(SMALL, density_unit=unit, density_bias=-5.5), step_size=0.05)
        for level in f.density_grid.levels:
            torch.nn.init.zeros_(level.table)
        sig[unit] = float(f.density(pts))
    assert sig["world"] == pytest.approx(0.0040784, rel=1e-4) and sig["step"] == pytest.approx(0.081569, rel=1e-4)
    with pytest.raises(ValueError, match="density_unit"):
        FastFieldConfig(density_unit="voxel")


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
    field = fast.build_field(cfg.fast, cfg.n_samples, scene)
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


def _constant_field(bias: float, cfg_changes: dict | None = None) -> FastField:
    """A field whose density is softplus(bias) everywhere in the box (zero grid tables)."""
    torch.manual_seed(0)
    grid = OccupancyGrid(torch.tensor([[-1.0] * 3, [1.0] * 3]), resolution=8)
    cfg = dataclasses.replace(SMALL, density_bias=bias, **(cfg_changes or {}))
    f = FastField(grid, cfg, step_size=0.1)
    for level in f.density_grid.levels:
        torch.nn.init.zeros_(level.table)
    return f


def test_early_termination_stops_where_transmittance_falls_below_eps():
    # sigma = softplus(3) = 3.0486 everywhere, deltas 0.1: T_i = exp(-0.30486 i) in front of sample i.
    # eps = 0.01: T_15 = exp(-4.573) = 0.0103 >= eps is kept, T_16 = exp(-4.878) = 0.0076 < eps is not.
    f = _constant_field(3.0, {"early_stop_eps": 0.01})
    t = torch.linspace(-0.9, 0.9, 19)  # 19 samples along x inside the box, 2 rays
    pts = torch.stack([torch.stack([t, torch.zeros_like(t), torch.zeros_like(t)], -1)] * 2)  # (2, 19, 3)
    keep = f.sample_mask(pts, torch.full((2, 19), 0.1))
    assert keep.shape == (2, 19)
    assert keep[0].tolist() == [True] * 16 + [False] * 3 and keep[1].tolist() == keep[0].tolist()
    # off by default (and with eps 0): no mask, every sample goes to the network
    assert _constant_field(3.0).sample_mask(pts, torch.full((2, 19), 0.1)) is None


def test_sample_mask_drops_empty_and_nearly_clear_samples():
    f = _constant_field(-2.0, {"early_stop_eps": 1e-4, "sample_alpha_skip": 0.05})
    f.occupancy.mask.zero_()
    f.occupancy.mask[4:] = True  # only x >= 0 can hold matter
    pts = torch.tensor([[[-0.5, 0.0, 0.0], [0.5, 0.0, 0.0], [0.6, 0.0, 0.0]]])  # (1, 3, 3)
    # sigma = softplus(-2) = 0.1269: alpha over delta 0.1 is 0.0126 (dropped), over delta 1.0 is 0.119 (kept)
    keep = f.sample_mask(pts, torch.tensor([[1.0, 0.1, 1.0]]))
    assert keep.tolist() == [[False, False, True]]  # empty cell, too clear, kept


def test_compaction_keeps_the_rendered_colour_and_gradients():
    """Rendering with early termination gives the colour of the full evaluation to within eps (what lies behind
    a transmittance of eps adds at most eps), and gradients still reach the grids."""
    from cs180utils.nerf.model import NeRF, RenderSettings
    f = _constant_field(2.0)
    for level in f.density_grid.levels:
        torch.nn.init.uniform_(level.table, 4.0, 6.0)
    model = NeRF(f, RenderSettings(2.0, 6.0, n_samples=64, aabb=f.occupancy.aabb))
    g = torch.Generator().manual_seed(0)
    o = torch.tensor([[0.0, 0.0, -4.0]]) + 0.1 * torch.randn(50, 3, generator=g)
    d = torch.nn.functional.normalize(torch.tensor([[0.0, 0.0, 1.0]]) + 0.03 * torch.randn(50, 3, generator=g), dim=-1)
    full = model.render_rays(o, d)
    f.cfg.early_stop_eps = 1e-4
    compact = model.render_rays(o, d)
    assert float(full["acc"].detach().min()) > 0.99  # opaque rays: termination has something to cut
    assert float((full["rgb"] - compact["rgb"]).detach().abs().max()) <= 1e-4
    assert f.last_keep_fraction < 0.5  # the network saw well under half the samples
    compact["rgb"].sum().backward()
    assert f.density_grid.levels[-1].table.grad.abs().sum() > 0
