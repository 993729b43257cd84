"""field2d.precision: exact PE values by integer arithmetic; where float32 and float64 break."""
import math

import numpy as np
import pytest
import torch

from cs180utils.field2d.precision import exact_pe, first_broken_frequency, pe_error


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
