"""ResNet18 keypoint regressor: shapes, mean-shape start, the ImageNet weights' download path (a local server),
and a few steps lower the loss."""
import hashlib

import pytest
import torch
from torchvision.models import resnet18

import cs180utils.machinery.keypoints.weights as R
from cs180utils.keypoints.resnet import KeypointResNet


def pretrained():
    """The model as ``train resnet --pretrained`` builds it: ImageNet weights when the downloader gets them."""
    return KeypointResNet(68, 1, backbone=R.load_imagenet_resnet18())


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


@pytest.fixture
def weights_server(tmp_path, monkeypatch):
    """A local HTTP server holding a resnet18 state dict (random, seeded) under torch.hub's name-<sha256>.pth
    convention; torch's cache in tmp_path; CS180_RESNET18_URL pointed at the server. Yields (url of the folder,
    the served state dict, the folder the server serves)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    served = tmp_path / "served"
    served.mkdir()
    torch.manual_seed(0)
    state = resnet18(weights=None).state_dict()
    raw = served / "raw.pth"
    torch.save(state, raw)
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()
    raw.rename(served / f"resnet18-{digest[:8]}.pth")
    (served / "resnet18-00000000.pth").write_bytes((served / f"resnet18-{digest[:8]}.pth").read_bytes())
    (served / f"resnet18-{hashlib.sha256(b'junk').hexdigest()[:8]}.pth").write_bytes(b"junk")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("CS180_OFFLINE", raising=False)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setenv("CS180_RESNET18_URL", f"{base}/resnet18-{digest[:8]}.pth")
    yield base, state, served
    httpd.shutdown()
    httpd.server_close()


def test_pretrained_weights_download_from_a_server_and_load(weights_server, monkeypatch, capsys):
    _, state, _ = weights_server
    net = pretrained()
    assert net.pretrained, capsys.readouterr().err
    assert R.imagenet_weights_path().is_file()                        # cached where torchvision looks
    # the grayscale filter is the sum of the RGB filters: a gray image (R = G = B) gives the same response
    torch.testing.assert_close(net.net.conv1.weight, state["conv1.weight"].sum(1, keepdim=True))
    torch.testing.assert_close(net.net.layer3[1].conv2.weight, state["layer3.1.conv2.weight"])
    torch.testing.assert_close(net.net.bn1.running_var, state["bn1.running_var"])
    assert net.net.fc.weight.shape == (136, 512) and not net.net.fc.weight.any()   # the head is new, zero
    # the second time: from the cache, no network
    monkeypatch.setenv("CS180_OFFLINE", "1")
    assert pretrained().pretrained


def test_pretrained_wrong_hash_or_not_weights_falls_back_and_keeps_nothing(weights_server, monkeypatch, capsys):
    base, _, _ = weights_server
    monkeypatch.setenv("CS180_RESNET18_URL", f"{base}/resnet18-00000000.pth")   # name says another sha256
    assert not pretrained().pretrained
    err = capsys.readouterr().err
    assert "does not start with 00000000" in err and "training from scratch" in err
    assert not any(R.imagenet_weights_path().parent.iterdir())         # nothing half-verified left behind
    junk = f"resnet18-{hashlib.sha256(b'junk').hexdigest()[:8]}.pth"    # right hash, but not a state dict
    monkeypatch.setenv("CS180_RESNET18_URL", f"{base}/{junk}")
    assert not pretrained().pretrained
    assert "is not a resnet18 state dict" in capsys.readouterr().err
    assert not R.imagenet_weights_path().exists()


def test_pretrained_offline_or_unreachable_falls_back_with_a_notice(weights_server, monkeypatch, capsys):
    base, _, _ = weights_server
    monkeypatch.setenv("CS180_OFFLINE", "1")
    assert not pretrained().pretrained
    err = capsys.readouterr().err
    assert "CS180_OFFLINE" in err and str(R.imagenet_weights_path()) in err   # says where to put it by hand
    monkeypatch.delenv("CS180_OFFLINE")
    monkeypatch.setenv("CS180_RESNET18_URL", f"{base}/missing-12345678.pth")   # HTTP 404
    assert not pretrained().pretrained
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
