"""ResNet18 keypoint regressor: shapes, mean-shape start, and a few steps lower the loss."""
import pytest
import torch

from cs180utils.keypoints.resnet import KeypointResNet


@pytest.mark.parametrize("size", [(64, 64), (75, 91)])
def test_output_shape_and_mean_shape_start(size):
    mean = torch.rand(68, 2)
    net = KeypointResNet(68, 1, mean_shape=mean).eval()
    out = net(torch.randn(3, 1, *size))
    assert out.shape == (3, 68, 2)
    torch.testing.assert_close(out, mean.expand(3, -1, -1))          # zero-initialised head: the mean shape
    assert net.net.conv1.in_channels == 1 and net.net.fc.out_features == 136


def test_errors():
    with pytest.raises(ValueError, match="mean_shape"):
        KeypointResNet(68, mean_shape=torch.zeros(5, 2))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        KeypointResNet(68)(torch.randn(2, 3, 32, 32))


def test_pretrained_offline_falls_back_with_a_notice(monkeypatch, capsys):
    import cs180utils.keypoints.resnet as R

    def offline(*a, **k):
        raise OSError("no network")
    monkeypatch.setattr(R, "resnet18", lambda weights=None: offline() if weights else R.__dict__["_orig"](None))
    monkeypatch.setitem(R.__dict__, "_orig", __import__("torchvision").models.resnet18)
    net = KeypointResNet(68, 1, pretrained=True)
    assert not net.pretrained
    assert "training from scratch" in capsys.readouterr().err


def test_a_few_steps_lower_the_loss():
    torch.manual_seed(0)
    net = KeypointResNet(4, 1)
    x = torch.randn(8, 1, 32, 32)
    y = torch.rand(8, 4, 2)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    losses = []
    for _ in range(15):
        loss = (net(x) - y).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]
