"""field2d.model: the PE's values, the MLP's shapes and parameter count, chunked rendering."""
import math

import pytest
import torch

from cs180utils.field2d import NeuralField2D, render
from cs180utils.field2d.images import pixel_coords


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
