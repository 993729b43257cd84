"""ResNet18 for 68-point keypoint regression (notebook 07): torchvision's resnet18 with a 1-channel first
convolution and 136 outputs, predicting offsets from the training set's mean shape.

    >>> model = KeypointResNet(num_keypoints=68, mean_shape=mean01)   # mean01: (K, 2) in [0, 1] crop units
    >>> model(x)                                                     # (B, 1, H, W) -> (B, K, 2) in [0, 1]

ImageNet weights are optional (``pretrained=True``): torchvision's ``IMAGENET1K_V1`` file is downloaded once into
torch's own cache (``torch.hub.get_dir()/checkpoints``, where torchvision looks too) by the workbook's downloader
(resumable, timed out, its sha256 checked against the prefix in the file name) and the first convolution's RGB
filters are summed into one grayscale filter.  Without a network (or with ``CS180_OFFLINE=1``, or a bad file)
the model starts from scratch with a notice saying why and where to put the file by hand.
``CS180_RESNET18_URL`` points the download elsewhere (a mirror; the tests' local server).
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import torch
import torch.nn as nn
from torchvision.models import ResNet18_Weights, resnet18

IMAGENET_URL = ResNet18_Weights.IMAGENET1K_V1.url   # .../resnet18-f37072fd.pth: the sha256 starts f37072fd
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")    # torch.hub's convention: name-<sha256 prefix>.ext


def imagenet_weights_url(url: str | None = None) -> str:
    """``url``, else ``$CS180_RESNET18_URL``, else torchvision's ImageNet resnet18 file."""
    return url or os.environ.get("CS180_RESNET18_URL") or IMAGENET_URL


def imagenet_weights_path(url: str | None = None) -> Path:
    """Where the weights of :func:`imagenet_weights_url` are cached: torch's hub folder."""
    url = imagenet_weights_url(url)
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rstrip("/").rsplit("/", 1)[-1]


def load_imagenet_resnet18(url: str | None = None, progress: bool = True) -> nn.Module | None:
    """torchvision's resnet18 with ImageNet weights, or None (with a notice on stderr saying why and what to do)
    when they can't be had: offline, unreachable, cut short (the next call resumes), a file whose sha256 does
    not match the prefix in its name or that is not a resnet18 state dict (deleted, so the next call downloads
    it again)."""
    from cs180utils.data.download import DownloadError, download_url, offline, sha256_of  # noqa: PLC0415

    url = imagenet_weights_url(url)
    dest = imagenet_weights_path(url)
    by_hand = f"put the file from {url} at {dest}"

    def notice(why: str) -> None:
        print(f"NOTICE: ImageNet weights for resnet18 unavailable ({why}); training from scratch. "
              f"To use them, {by_hand}.", file=sys.stderr)

    if not dest.is_file():
        if offline():
            notice("downloads are disabled: CS180_OFFLINE is set")
            return None
        unverified = dest.with_name(dest.name + ".unverified")   # (its .part resumes a cut download)
        try:
            download_url(url, unverified, progress=progress, what="resnet18 ImageNet weights", hint="")
        except (DownloadError, OSError, ValueError) as exc:
            notice(str(exc).strip())
            return None
        prefix = _HASH_IN_NAME.search(dest.name)
        if prefix and not sha256_of(unverified).startswith(prefix.group(1)):
            unverified.unlink()
            notice(f"the download's sha256 does not start with {prefix.group(1)}, as its name says; deleted")
            return None
        os.replace(unverified, dest)
    net = resnet18(weights=None)
    try:
        net.load_state_dict(torch.load(dest, map_location="cpu", weights_only=True))
    except Exception as exc:  # not a state dict, truncated, another architecture
        dest.unlink(missing_ok=True)
        notice(f"{dest} is not a resnet18 state dict ({type(exc).__name__}); deleted")
        return None
    return net


class KeypointResNet(nn.Module):
    """(B, in_channels, H, W) -> (B, K, 2) keypoints in crop units (0 = left/top edge, 1 = right/bottom).

    Args:
        num_keypoints: K (68 for 300-W); the head has 2K outputs.
        in_channels: 1 for grayscale.
        mean_shape: optional (K, 2) starting shape in crop units; the head predicts the offset from it and is
            zero-initialised, so an untrained model predicts the mean shape (the baseline) instead of noise.
        pretrained: start from ImageNet weights when they can be downloaded.
    """

    def __init__(self, num_keypoints: int = 68, in_channels: int = 1, mean_shape: torch.Tensor | None = None,
                 pretrained: bool = False):
        super().__init__()
        self.num_keypoints = num_keypoints
        net = load_imagenet_resnet18() if pretrained else None
        self.pretrained = net is not None
        net = net or resnet18(weights=None)
        # BEGIN SOLUTION resnet
        old = net.conv1
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        if self.pretrained:
            with torch.no_grad():  # grayscale = the sum of the RGB filters (a gray image has R = G = B)
                net.conv1.weight.copy_(old.weight.sum(1, keepdim=True).repeat(1, in_channels, 1, 1) / in_channels)
        net.fc = nn.Linear(net.fc.in_features, 2 * num_keypoints)
        nn.init.zeros_(net.fc.weight)
        nn.init.zeros_(net.fc.bias)
        # END SOLUTION
        self.net = net
        if mean_shape is None:
            mean_shape = torch.full((num_keypoints, 2), 0.5)
        mean_shape = torch.as_tensor(mean_shape, dtype=torch.float32)
        if mean_shape.shape != (num_keypoints, 2):
            raise ValueError(f"mean_shape must be ({num_keypoints}, 2); got {tuple(mean_shape.shape)}")
        self.register_buffer("mean_shape", mean_shape.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.net.conv1.in_channels:
            raise ValueError(f"expected (B, {self.net.conv1.in_channels}, H, W) images; got {tuple(x.shape)}")
        # BEGIN SOLUTION resnet
        offsets = self.net(x).view(-1, self.num_keypoints, 2)        # (B, K, 2)
        return self.mean_shape + offsets                              # (B, K, 2)
        # END SOLUTION
