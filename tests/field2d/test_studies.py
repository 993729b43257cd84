"""field2d.studies: the L x D grid, the split into even pixels, linear fill, the held-out fit."""
import numpy as np
import pytest

from cs180utils.field2d import FitConfig
from cs180utils.field2d.studies import fit_grid, fit_heldout, linear_fill, split_even

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
