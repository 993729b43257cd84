"""notebook 01 / train field2d: encoding, model shapes, chunked render, fitting, resume, cache, CLI, precision."""
import io
import json
import math
from contextlib import redirect_stdout

import numpy as np
import pytest
import torch
from PIL import Image

from cs180utils.field2d import FitConfig, NeuralField2D, cached_fit, fit_image, image_to_targets, load_image, render
from cs180utils.field2d.images import as_float_image, pixel_coords
from cs180utils.field2d.model import mse_to_psnr
from cs180utils.field2d.precision import exact_pe, first_broken_frequency, pe_error


def smooth_image(h=16, w=20):
    """A hand-made (H, W, 3) image: two gradients and a disc."""
    v, u = np.mgrid[0:h, 0:w]
    img = np.stack([u / w, v / h, ((u - w / 2) ** 2 + (v - h / 2) ** 2 < (h / 3) ** 2) * 0.8 + 0.1], -1)
    return img.astype(np.float32)


# ---- encoding and model -----------------------------------------------------------------------------------

def test_pe_at_zero_every_sine_0_every_cosine_1_and_width():
    model = NeuralField2D(L=10)
    pe = model.encoding(torch.zeros(3, 2))
    assert pe.shape == (3, 2 * (2 * 10 + 1)) == (3, 42)
    sincos = pe[:, 2:].reshape(3, 10, 2, 2)  # (R, L, sin|cos, d)
    assert torch.all(pe[:, :2] == 0)
    assert torch.all(sincos[:, :, 0] == 0) and torch.all(sincos[:, :, 1] == 1)


def test_pe_hand_values_at_a_quarter():
    pe = NeuralField2D(L=2).encoding(torch.tensor([[0.25, 0.5]]))[0]  # [x, sin(pi x), cos(pi x), sin(2 pi x), ...]
    r = math.sqrt(0.5)
    expected = [0.25, 0.5, r, 1.0, r, 0.0, 1.0, 0.0, 0.0, -1.0]  # layout: x, sin(f0 x), cos(f0 x), ...
    assert torch.allclose(pe, torch.tensor(expected), atol=1e-6)


def test_model_shapes_parameter_count_and_range():
    model = NeuralField2D(L=10, width=256, depth=4)
    n = sum(p.numel() for p in model.parameters())
    assert n == (42 * 256 + 256) + 2 * (256 * 256 + 256) + (256 * 3 + 3)
    out = model(torch.rand(17, 2))
    assert out.shape == (17, 3) and torch.all((out > 0) & (out < 1))
    assert sum(isinstance(m, torch.nn.Linear) for m in NeuralField2D(L=3, width=32, depth=6).modules()) == 6
    with pytest.raises(ValueError, match=r"\(R, 2\)"):
        model(torch.rand(4, 3))


def test_model_accepts_any_encoding_with_out_dim():
    class Identity2(torch.nn.Module):
        out_dim = 2

        def forward(self, x):
            return x

    model = NeuralField2D(encoding=Identity2(), width=8, depth=2)
    assert model.mlp[0].in_features == 2 and model(torch.rand(5, 2)).shape == (5, 3)
    with pytest.raises(ValueError, match="out_dim"):
        NeuralField2D(encoding=torch.nn.Identity())


def test_chunked_render_equals_unchunked():
    torch.manual_seed(0)
    model = NeuralField2D(L=6, width=32)
    whole = render(model, 13, 11, chunk=10_000)
    chunked = render(model, 13, 11, chunk=7)
    assert whole.shape == (13, 11, 3)
    torch.testing.assert_close(chunked, whole, rtol=1e-6, atol=1e-6)
    direct = model(pixel_coords(13, 11)).reshape(13, 11, 3)
    torch.testing.assert_close(whole, direct.detach(), rtol=1e-6, atol=1e-6)


def test_psnr():
    assert mse_to_psnr(0.01) == pytest.approx(20.0)
    assert mse_to_psnr(1e-3) == pytest.approx(30.0)
    assert mse_to_psnr(0.0) == math.inf


# ---- images -----------------------------------------------------------------------------------------------

def test_pixel_coords_are_u_over_w_v_over_h_row_major():
    c = pixel_coords(4, 5)
    assert c.shape == (20, 2)
    assert c[0].tolist() == [0, 0] and c[1].tolist() == pytest.approx([1 / 5, 0])
    assert c[5].tolist() == pytest.approx([0, 1 / 4]) and c[-1].tolist() == pytest.approx([4 / 5, 3 / 4])


def test_image_to_targets_round_trip_and_uint8():
    img = (np.arange(4 * 5 * 3) % 256).astype(np.uint8).reshape(4, 5, 3)
    coords, colors = image_to_targets(img)
    assert coords.shape == (20, 2) and colors.shape == (20, 3)
    np.testing.assert_allclose(colors.reshape(4, 5, 3).numpy(), img / 255.0, atol=1e-7)


def test_as_float_image_channels_and_errors():
    assert as_float_image(np.zeros((3, 4), np.uint8)).shape == (3, 4, 3)
    rgba = np.full((3, 4, 4), 255, np.uint8)
    assert as_float_image(rgba).shape == (3, 4, 3) and as_float_image(rgba).max() == 1.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        as_float_image(np.full((3, 4, 3), 200.0))
    with pytest.raises(ValueError, match="shape"):
        as_float_image(np.zeros((3, 4, 2)))


def test_default_image_is_grace_hopper_and_downscales():
    img, name = load_image()
    assert name == "hopper" and img.shape == (600, 512, 3) and img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0 and 0.2 < img.mean() < 0.8
    small, _ = load_image(max_side=60)
    assert small.shape == (60, 51, 3)
    terrain, name = load_image("terrain")
    assert name == "terrain" and terrain.shape == (344, 403, 3)


def test_fox_found_in_data_dir_else_notice_and_hopper(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CS180_DATA_DIR", raising=False)
    monkeypatch.setenv("CS180_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CS180_OFFLINE", "1")
    img, name = load_image("fox", max_side=32, data_dir=tmp_path)
    assert name == "hopper" and img.shape[0] == 32
    assert "fox" in capsys.readouterr().err
    Image.fromarray(np.full((10, 14, 3), 200, np.uint8)).save(tmp_path / "fox.jpg")
    img, name = load_image("fox", data_dir=tmp_path)
    assert name == "fox" and img.shape == (10, 14, 3)


def test_missing_image_path_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image(tmp_path / "nope.jpg")
    (tmp_path / "bad.jpg").write_text("not an image")
    with pytest.raises(ValueError, match="not a readable image"):
        load_image(tmp_path / "bad.jpg")


# ---- fitting ----------------------------------------------------------------------------------------------

TINY = dict(L=4, width=64, depth=3, batch=256, lr=1e-2, eval_every=50, snapshot_steps=(0, 100))


def test_tiny_image_fits_to_a_psnr_floor():
    img = smooth_image()
    result = fit_image(img, FitConfig(steps=300, **TINY), device="cpu", progress=False)
    assert result.history["step"] == [50, 100, 150, 200, 250, 300]
    assert result.psnr == pytest.approx(result.history["psnr"][-1])
    assert result.psnr > 30.0, result.history["psnr"]
    assert result.history["psnr"][-1] > result.history["psnr"][0] + 5
    assert np.all(np.diff(result.history["seconds"]) > 0)
    assert set(result.snapshots) == {0, 100} and result.snapshots[0].shape == (16, 20, 3)
    assert result.final.dtype == np.uint8 and result.final.shape == (16, 20, 3)


def test_same_seed_same_numbers_other_seed_differs():
    img = smooth_image()
    a = fit_image(img, FitConfig(steps=40, **TINY), device="cpu", progress=False)
    b = fit_image(img, FitConfig(steps=40, **TINY), device="cpu", progress=False)
    c = fit_image(img, FitConfig(steps=40, seed=1, **TINY), device="cpu", progress=False)
    assert a.history["psnr"] == b.history["psnr"] and a.psnr != c.psnr


def test_resume_from_checkpoint_equals_uninterrupted(tmp_path):
    img = smooth_image()
    straight = fit_image(img, FitConfig(steps=60, **TINY), device="cpu", progress=False)
    ckpt = tmp_path / "ck.pt"
    first = fit_image(img, FitConfig(steps=30, **TINY), device="cpu", progress=False, checkpoint=ckpt)
    assert ckpt.exists() and first.history["step"] == [30]
    resumed = fit_image(img, FitConfig(steps=60, **TINY), device="cpu", progress=False, checkpoint=ckpt)
    assert resumed.history["step"] == [30, 50, 60]
    assert resumed.psnr == straight.psnr
    for p, q in zip(resumed.model.parameters(), straight.model.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="other settings"):
        fit_image(img, FitConfig(steps=60, **{**TINY, "width": 32}), device="cpu", progress=False, checkpoint=ckpt)
    with pytest.raises(ValueError, match="another image"):
        fit_image(img * 0.5, FitConfig(steps=60, **TINY), device="cpu", progress=False, checkpoint=ckpt)


def test_cached_fit_loads_instead_of_training(tmp_path):
    img = smooth_image()
    cfg = FitConfig(steps=20, **TINY)
    first = cached_fit(img, cfg, cache_dir=tmp_path, progress=False)
    again = cached_fit(img, cfg, cache_dir=tmp_path, progress=False)
    assert not first.cached and again.cached
    assert again.psnr == first.psnr and np.array_equal(again.final, first.final)
    np.testing.assert_array_equal(render(again.model, 16, 20).numpy(), render(first.model.cpu(), 16, 20).numpy())
    other = cached_fit(img, FitConfig(steps=20, **{**TINY, "L": 2}), cache_dir=tmp_path, progress=False)
    assert not other.cached and len(list(tmp_path.glob("*.pt"))) == 2


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="steps"):
        FitConfig(steps=0)
    with pytest.raises(ValueError, match="dtype"):
        FitConfig(dtype="float16")


# ---- command line -----------------------------------------------------------------------------------------

def test_cli_prints_json_last_and_resumes(tmp_path):
    from cs180utils.cli import main

    argv = ["train", "field2d", "--profile", "smoke", "--max-side", "16", "--steps", "20", "--width", "16",
            "--batch", "128", "--out", str(tmp_path / "run")]
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(argv) == 0
    out = json.loads(buf.getvalue().strip().splitlines()[-1])
    assert out["psnr"] > 8 and out["seconds"] > 0 and out["steps"] == 20 and out["H"] == 16
    assert out["resumed_from_step"] == 0
    assert {p.name for p in (tmp_path / "run").iterdir()} >= {"checkpoint.pt", "final.png", "snapshots.png"}
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(argv) == 0
    again = json.loads(buf.getvalue().strip().splitlines()[-1])
    assert again["resumed_from_step"] == 20 and again["psnr"] == out["psnr"]


# ---- float precision of high PE frequencies ---------------------------------------------------------------

def test_exact_pe_by_integer_arithmetic():
    s, c = exact_pe(np.array([0, 1, 2, 3]), 4, 0)  # sin(pi u / 4)
    np.testing.assert_allclose(s, [0, math.sqrt(0.5), 1, math.sqrt(0.5)], atol=1e-15)
    s, c = exact_pe(np.array([1]), 4, 60)  # 2^60 pi / 4 = 2^58 pi: a whole number of turns
    assert abs(s[0]) < 1e-15 and c[0] == pytest.approx(1.0)


def test_float32_pe_breaks_near_k_19_float64_near_48():
    e32 = pe_error(600, 60, torch.float32)
    e64 = pe_error(600, 60, torch.float64)
    assert e32[:10].max() < 1e-3 and e64[:30].max() < 1e-6
    assert 15 <= first_broken_frequency(e32) <= 22
    assert 44 <= first_broken_frequency(e64) <= 52
    assert e32[30:].min() > 1.0  # sin/cos of L = 55/60's top bands in float32: pure rounding noise


# ---- experiments ------------------------------------------------------------------------------------------

def test_split_even_and_linear_fill_are_exact_on_a_ramp():
    from cs180utils.field2d.experiments import linear_fill, split_even

    v, u = np.mgrid[0:7, 0:9]  # odd size: cropped to 6 x 8
    ramp = np.stack([u / 20 + v / 40] * 3, -1)
    train, full = split_even(ramp)
    assert full.shape == (6, 8, 3) and train.shape == (3, 4, 3)
    np.testing.assert_array_equal(train, full[::2, ::2])
    filled = linear_fill(train, 6, 8)
    np.testing.assert_allclose(filled[:-1, :-1], full[:-1, :-1], atol=1e-6)  # interior: linear is exact
    np.testing.assert_allclose(filled[::2, ::2], train)


def test_heldout_fit_scores_seen_pixels_like_its_fit(tmp_path):
    from cs180utils.field2d.experiments import fit_heldout

    img = smooth_image(16, 20)
    h = fit_heldout(img, FitConfig(steps=60, **TINY), cache_dir=tmp_path, progress=False)
    assert h.render.shape == (16, 20, 3)
    assert h.train_psnr == pytest.approx(h.fit.psnr, abs=0.05)  # same pixels, same model
    assert 5 < h.heldout_psnr < 60 and h.linear_psnr > 15
