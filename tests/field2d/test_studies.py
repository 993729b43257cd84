"""field2d.studies: the L x D grid, the split into even pixels, linear fill, the held-out fit."""
import numpy as np
import pytest

from cs180utils.machinery.field2d.experiment import FitConfig
from cs180utils.machinery.field2d.studies import (SweepConfig, fit_grid, fit_heldout, fit_sweep, linear_fill, split_even,
                                      sweep_config)

from .helpers import TINY, smooth_image


def test_split_even_and_linear_fill_are_exact_on_a_ramp():
    v, u = np.mgrid[0:7, 0:9]  # odd size: cropped to 6 x 8
    ramp = np.stack([u / 20 + v / 40] * 3, -1)
    train, full = split_even(ramp)
    assert full.shape == (6, 8, 3) and train.shape == (3, 4, 3)
    np.testing.assert_array_equal(train, full[::2, ::2])
    filled = linear_fill(train, 6, 8)
    np.testing.assert_allclose(filled[:-1, :-1], full[:-1, :-1], atol=1e-6)  # interior: linear is exact
    np.testing.assert_allclose(filled[::2, ::2], train)


def test_heldout_fit_scores_seen_pixels_like_its_fit(tmp_path, monkeypatch):
    monkeypatch.setenv("CS180_RUNS_DIR", str(tmp_path))
    img = smooth_image(16, 20)
    h = fit_heldout(img, FitConfig(steps=60, **TINY), progress=False)
    assert h.render.shape == (16, 20, 3)
    assert h.train_psnr == pytest.approx(h.fit.psnr, abs=0.05)  # same pixels, same model
    assert 5 < h.heldout_psnr < 60 and h.linear_psnr > 15


def test_grid_has_one_fit_per_pair(tmp_path, monkeypatch):
    monkeypatch.setenv("CS180_RUNS_DIR", str(tmp_path))
    grid = fit_grid(smooth_image(), (0, 4), (8, 16), FitConfig(steps=10, **{**TINY, "snapshot_steps": ()}),
                    progress=False)
    assert sorted(grid) == [(0, 8), (0, 16), (4, 8), (4, 16)]
    assert {(r.config.L, r.config.width) for r in grid.values()} == set(grid)
    assert len(list(tmp_path.glob("field2d/grid-*/checkpoint.pt"))) == 4


def test_sweep_is_the_write_ups_cross_of_L_and_D():
    full = sweep_config("full")
    assert full.cells() == [(20, 256), (25, 256), (30, 256), (35, 256), (45, 256), (55, 256),
                            (55, 32), (55, 64), (55, 128)]  # 6 + 4 - 1: (55, 256) is in both sweeps
    assert (full.image_size, full.steps, full.batch_size) == (None, 2000, 10_000)
    cpu = sweep_config("cpu")
    assert cpu.cells() == full.cells() and cpu.image_size < 512   # the same cells on a smaller image
    cfg = cpu.fit_config(FitConfig(lr=3e-3, encoding="grid"), 45, 256)
    assert (cfg.L, cfg.width, cfg.lr, cfg.encoding, cfg.steps, cfg.image_size) == (45, 256, 3e-3, "pe", 300, 128)
    assert sweep_config("smoke", Ls=(3,)).cells()[0] == (3, 64)


def test_sweep_fits_each_cell_once_on_the_even_pixels(tmp_path, monkeypatch):
    monkeypatch.setenv("CS180_RUNS_DIR", str(tmp_path))
    sweep = SweepConfig(Ls=(2, 4), L_width=16, widths=(8, 16), widths_L=4, image_size=None, steps=10,
                        batch_size=64)
    res = fit_sweep(smooth_image(16, 20), sweep, FitConfig(**TINY), progress=False)
    assert sorted(res) == [(2, 16), (4, 8), (4, 16)]
    assert all(r.fit.config.steps == 10 and r.render.shape == (16, 20, 3) for r in res.values())
    assert {r.fit.config.width for r in res.values()} == {8, 16}
    assert len(list(tmp_path.glob("field2d/sweep-*/checkpoint.pt"))) == 3
    again = fit_sweep(smooth_image(16, 20), sweep, FitConfig(**TINY), progress=False)
    assert all(r.fit.cached and r.heldout_psnr == res[k].heldout_psnr for k, r in again.items())
