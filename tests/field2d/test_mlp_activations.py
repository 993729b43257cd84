"""The 2-D field's MLP: a ReLU between its layers, none after the last (a plausible mistake either way)."""
import torch

from cs180utils.field2d.model import mlp


def test_mlp_has_relu_between_layers_and_none_after_the_last():
    torch.manual_seed(0)
    net = mlp(2, 16, 3, 1)
    x = torch.randn(256, 2) * 3
    with torch.no_grad():
        y, y_neg, y0 = net(x), net(-x), net(torch.zeros(1, 2))
    # an affine map (no ReLU between the layers) has f(x) + f(-x) = 2 f(0) everywhere
    assert not torch.allclose(y + y_neg, 2 * y0.expand_as(y), atol=1e-3)
    # no activation after the last layer: outputs of both signs
    assert (y < 0).any() and (y > 0).any()
