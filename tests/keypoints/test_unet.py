"""U-Net blocks and shapes, and a few steps lower a heatmap loss."""
import pytest
import torch

from cs180utils.keypoints import heatmaps as hm
from cs180utils.keypoints.unet import DoubleConv, Down, OutConv, Up, UNet


def test_blocks_shapes():
    x = torch.randn(2, 3, 17, 23)
    assert DoubleConv(3, 8)(x).shape == (2, 8, 17, 23)
    assert Down(3, 8)(x).shape == (2, 8, 8, 11)
    assert Up(8, 3, 5)(torch.randn(2, 8, 8, 11), x).shape == (2, 5, 17, 23)     # odd skip sizes are padded
    assert OutConv(3, 68)(x).shape == (2, 68, 17, 23)


@pytest.mark.parametrize("size", [(32, 32), (37, 45), (64, 48)])
def test_unet_output_matches_input_size(size):
    net = UNet(1, 68, widths=(4, 8, 16))
    assert net(torch.randn(2, 1, *size)).shape == (2, 68, *size)


def test_unet_errors_and_widths():
    with pytest.raises(ValueError, match="at least two"):
        UNet(1, 68, widths=(8,))
    with pytest.raises(ValueError, match="H, W >= 4"):
        UNet(1, 68, widths=(4, 8, 16))(torch.randn(1, 1, 3, 3))
    small, big = UNet(1, 68, (4, 8)), UNet(1, 68, (8, 16, 32))
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in big.parameters())


def test_a_few_steps_lower_the_heatmap_loss():
    torch.manual_seed(0)
    net = UNet(1, 2, widths=(8, 16))
    kps = torch.tensor([[[5.5, 9.5], [11.5, 4.5]]]).repeat(4, 1, 1)       # the centres of the two marked pixels
    x = torch.zeros(4, 1, 16, 16)
    x[:, 0, 9, 5] = 1.0
    x[:, 0, 4, 11] = -1.0
    target = hm.gaussian_heatmaps(kps, (16, 16), 2.0)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    losses = []
    for _ in range(30):
        loss = hm.heatmap_loss(net(x), target, "ce")
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]
    with torch.no_grad():                  # batch statistics: 30 steps are too few for BatchNorm's running ones
        err = (hm.soft_argmax(net(x)) - kps).norm(dim=-1).mean()
    assert err < 3.0                       # from ~4.5 px (a uniform map's centre) towards the points
