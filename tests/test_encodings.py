import math

import torch

from cs180utils.encodings import PositionalEncoding, positional_encoding


def test_pe_at_zero_sines_zero_cosines_one():
    L = 10
    out = positional_encoding(torch.zeros(1, 2), L)
    assert out.shape == (1, 2 * (2 * L + 1))  # 42 for a 2-D input
    x, rest = out[0, :2], out[0, 2:].reshape(L, 2, 2)  # (L, sin/cos, d)
    assert torch.all(x == 0)
    assert torch.all(rest[:, 0] == 0) and torch.all(rest[:, 1] == 1)


def test_pe_layout_matches_course_formula():
    x = torch.tensor([[0.3, -0.7, 0.1]])
    out = positional_encoding(x, 4)
    assert out.shape == (1, 3 * 9)
    for k in range(4):
        f = 2.0 ** k * math.pi
        assert torch.allclose(out[0, 3 + 6 * k: 6 + 6 * k], torch.sin(f * x[0]))
        assert torch.allclose(out[0, 6 + 6 * k: 9 + 6 * k], torch.cos(f * x[0]))


def test_module_width_and_shape_check():
    pe = PositionalEncoding(3, 10)
    assert pe.out_dim == 63 and pe(torch.rand(4, 5, 3)).shape == (4, 5, 63)
    try:
        pe(torch.rand(4, 2))
    except ValueError as e:
        assert "expected last dim 3" in str(e)
    else:
        raise AssertionError("wrong input width must raise")
