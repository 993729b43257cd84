import pytest
import torch

from cs180utils.keypoints.cnn import KeypointCNN, NoseCNN, count_parameters


def test_shapes_and_sigmoid_range():
    torch.manual_seed(0)
    nose = NoseCNN()
    out = nose(torch.randn(3, 1, 60, 80))
    assert out.shape == (3, 1, 2) and (out > 0).all() and (out < 1).all()
    kp = KeypointCNN(73, (120, 160))
    assert kp(torch.randn(2, 1, 120, 160)).shape == (2, 73, 2)
    lin = KeypointCNN(5, (64, 64), channels=(4, 8), sigmoid=False)
    torch.manual_seed(0)
    assert (lin(torch.randn(8, 1, 64, 64) * 50).abs() > 1).any()      # a linear head is not squashed
    assert count_parameters(nose) < count_parameters(kp)


def test_wrong_input_size_is_a_clear_error():
    with pytest.raises(ValueError, match="expected input"):
        NoseCNN()(torch.zeros(1, 1, 120, 160))
    with pytest.raises(ValueError, match="too small"):
        KeypointCNN(5, (8, 8), channels=(4, 4, 4, 4))



def test_a_few_steps_lower_the_loss(one_thread):
    torch.manual_seed(0)
    # a bright dot at the target position: learnable, and far from the sigmoid's starting guess 0.5
    y = 0.15 + 0.2 * torch.rand(16, 1, 2)
    x = torch.full((16, 1, 60, 80), -0.5)
    for i, (u, v) in enumerate(y[:, 0]):
        x[i, 0, int(v * 60) - 1:int(v * 60) + 2, int(u * 80) - 1:int(u * 80) + 2] = 0.5
    m = NoseCNN()
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    losses = []
    for _ in range(20):
        loss = torch.nn.functional.mse_loss(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_start_at_mean_shape():
    torch.manual_seed(0)
    mean = torch.tensor([[0.3, 0.4], [0.7, 0.4], [0.5, 0.8]])
    m = KeypointCNN(3, (32, 32), channels=(4, 8))
    m.head.start_at(mean)
    out = m(torch.randn(5, 1, 32, 32) * 0.2)
    assert (out - mean).abs().max() < 0.05


def test_plain_blocks_layers_and_width():
    from cs180utils.keypoints.cnn import plain_blocks
    assert plain_blocks() == ((12, 16, 24, 32), (5, 5, 3, 3))
    assert plain_blocks(3, 2.0) == ((24, 32, 48), (5, 5, 3)) and plain_blocks(5, 0.5) == ((6, 8, 12, 16, 24),
                                                                                          (5, 5, 3, 3, 3))
    channels, kernels = plain_blocks(5)
    plain = KeypointCNN(1, (60, 80), channels, kernels, hidden=128)
    layers = [type(m).__name__ for m in plain.features.modules()]
    assert layers.count("Conv2d") == 5 and layers.count("MaxPool2d") == 5 and "BatchNorm2d" not in layers
    assert plain(torch.zeros(2, 1, 60, 80)).shape == (2, 1, 2)
    with pytest.raises(ValueError, match="layers must be 1 to 6"):
        plain_blocks(7)
    with pytest.raises(ValueError, match="width must be above 0"):
        plain_blocks(4, 0)
