"""to_uint8 and PSNR by hand."""
import math

import numpy as np
import pytest
import torch

from cs180utils.images import mse_to_psnr, psnr, to_uint8


def test_to_uint8_rounds_and_clips():
    x = torch.tensor([-0.5, 0.0, 0.5 / 255, 0.5, 1.0, 2.0])
    assert to_uint8(x).tolist() == [0, 0, 1, 128, 255, 255]
    assert to_uint8(np.array([0.2])).dtype == np.uint8


def test_psnr_by_hand():
    a = torch.zeros(4, 4, 3)
    assert psnr(a + 0.1, a) == pytest.approx(20.0)          # mse 0.01 -> 20 dB
    assert mse_to_psnr(1e-3) == pytest.approx(30.0)
    assert math.isinf(mse_to_psnr(0.0))
    with pytest.raises(ValueError, match="one shape"):
        psnr(a, a[:2])
