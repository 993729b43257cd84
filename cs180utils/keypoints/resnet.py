"""ResNet18 for 68-point keypoint regression (notebook 07): torchvision's resnet18 with a 1-channel first
convolution and 136 outputs, predicting offsets from the training set's mean shape.

    >>> model = KeypointResNet(num_keypoints=68, mean_shape=mean01)   # mean01: (K, 2) in [0, 1] crop units
    >>> model(x)                                                     # (B, 1, H, W) -> (B, K, 2) in [0, 1]

ImageNet weights are optional: pass ``backbone=`` a torchvision resnet18 that holds them (the machinery's
:func:`cs180utils.machinery.keypoints.weights.load_imagenet_resnet18` downloads them once) and the first
convolution's RGB filters are summed into one grayscale filter.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from torchvision.models import resnet18


class KeypointResNet(nn.Module):
    """(B, in_channels, H, W) -> (B, K, 2) keypoints in crop units (0 = left/top edge, 1 = right/bottom).

    Args:
        num_keypoints: K (68 for 300-W); the head has 2K outputs.
        in_channels: 1 for grayscale.
        mean_shape: optional (K, 2) starting shape in crop units; the head predicts the offset from it and is
            zero-initialised, so an untrained model predicts the mean shape (the baseline) instead of noise.
        backbone: a torchvision resnet18 to start from (e.g. with ImageNet weights); None: random weights.
    """

    def __init__(self, num_keypoints: int = 68, in_channels: int = 1, mean_shape: torch.Tensor | None = None,
                 backbone: nn.Module | None = None):
        super().__init__()
        self.num_keypoints = num_keypoints
        self.pretrained = backbone is not None
        net = backbone if backbone is not None else resnet18(weights=None)
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
