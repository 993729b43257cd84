"""Compositing with a background: the part of the ray that is not stopped shows it."""
import math

import torch

from cs180utils.nerf.rendering import composite, render_weights


def test_half_opaque_sample_mixes_in_half_the_background():
    # one sample with sigma delta = ln 2: alpha = 1/2, so half its red and half the blue background
    w, T, alpha = render_weights(torch.tensor([[math.log(2.0), 0.0]]), torch.ones(1, 2))
    out = composite(w, torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]), background=(0.0, 0.0, 1.0))
    assert torch.allclose(alpha, torch.tensor([[0.5, 0.0]])) and torch.allclose(out["acc"], torch.tensor([0.5]))
    assert torch.allclose(out["rgb"], torch.tensor([[0.5, 0.0, 0.5]]))
