"""Small CNNs that regress keypoint coordinates directly (notebooks 05 and 06).

    >>> NoseCNN()(torch.zeros(8, 1, 60, 80)).shape                          # (8, 1, 2) in [0, 1]
    >>> KeypointCNN(n_points=73)(torch.zeros(8, 1, 120, 160)).shape        # (8, 73, 2)

Outputs are (x, y) as fractions of the image size. With ``sigmoid=True`` (default) the last layer's output
goes through a sigmoid, which keeps every prediction inside the image and starts the network near the
centre (the seed found this decisive for the nose); ``sigmoid=False`` is a plain linear output.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class ConvBlock(nn.Sequential):
    """conv(k x k, 'same' padding) -> [BatchNorm] -> ReLU [-> conv -> ReLU] -> 2x2 max-pool: (B, C_in, H, W) -> (B, C_out, H/2, W/2)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, double: bool = False, batch_norm: bool = False):
        # BEGIN SOLUTION conv_block
        layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.ReLU(inplace=True))
        if double:
            layers += [nn.Conv2d(c_out, c_out, 3, padding=1)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.MaxPool2d(2))
        # END SOLUTION
        super().__init__(*layers)


class CoordinateHead(nn.Module):
    """flatten -> FC -> ReLU -> [dropout] -> FC -> [sigmoid]: (B, C, h, w) -> (B, K, 2)."""

    def __init__(self, in_features: int, n_points: int, hidden: int = 128, sigmoid: bool = True,
                 dropout: float = 0.0):
        super().__init__()
        self.n_points, self.sigmoid = n_points, sigmoid
        # BEGIN SOLUTION coordinate_head
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(inplace=True),
                                nn.Dropout(dropout), nn.Linear(hidden, 2 * n_points))
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION coordinate_head
        out = self.fc(x).view(-1, self.n_points, 2)                  # (B, K, 2)
        return torch.sigmoid(out) if self.sigmoid else out
        # END SOLUTION

    @torch.no_grad()
    def start_at(self, mean_shape: torch.Tensor, weight_scale: float = 0.1) -> None:
        """Make the untrained head answer (about) ``mean_shape`` (K, 2) in [0, 1]: the last layer's bias is
        set to it (through the inverse sigmoid) and its weights shrunk, so training starts from the
        mean-shape baseline instead of a random guess."""
        last = self.fc[-1]
        m = torch.as_tensor(mean_shape, dtype=last.bias.dtype).reshape(-1).clamp(1e-3, 1 - 1e-3)
        last.bias.copy_(torch.logit(m) if self.sigmoid else m)
        last.weight.mul_(weight_scale)


class KeypointCNN(nn.Module):
    """A stack of :class:`ConvBlock` then a :class:`CoordinateHead`.

    Args:
        n_points: K, keypoints predicted.
        in_size: (H, W) of the input; must survive len(channels) halvings.
        channels: output channels of each block (one max-pool each).
        kernels: kernel size of each block (default 3; the first layer may be larger).
        hidden: width of the hidden fully connected layer.
        sigmoid: squash the outputs to (0, 1).
        double: two convolutions per block (a deeper network at the same resolution schedule).
        batch_norm: BatchNorm after each convolution.
    Input (B, 1, H, W) in [-0.5, 0.5]; output (B, K, 2), (x, y) fractions of the image size.
    """

    def __init__(self, n_points: int = 58, in_size: tuple[int, int] = (120, 160),
                 channels: Sequence[int] = (16, 32, 48, 64, 96), kernels: Sequence[int] | None = None,
                 hidden: int = 256, sigmoid: bool = True, double: bool = False, batch_norm: bool = False,
                 dropout: float = 0.0, in_channels: int = 1):
        super().__init__()
        kernels = list(kernels) if kernels is not None else [3] * len(channels)
        if len(kernels) != len(channels):
            raise ValueError(f"kernels {kernels} and channels {list(channels)} must have the same length")
        h, w = in_size
        if h >> len(channels) < 1 or w >> len(channels) < 1:
            raise ValueError(f"input {in_size} is too small for {len(channels)} max-pool blocks")
        blocks, c = [], in_channels
        for c_out, k in zip(channels, kernels):
            blocks.append(ConvBlock(c, c_out, k, double=double, batch_norm=batch_norm))
            c = c_out
        self.features = nn.Sequential(*blocks)
        self.in_size = (h, w)
        self.head = CoordinateHead(c * (h >> len(channels)) * (w >> len(channels)), n_points, hidden, sigmoid,
                                   dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.in_size:
            raise ValueError(f"expected input (B, 1, {self.in_size[0]}, {self.in_size[1]}), got {tuple(x.shape)}")
        return self.head(self.features(x))                          # (B, K, 2)


def NoseCNN(in_size: tuple[int, int] = (60, 80), channels: Sequence[int] = (12, 16, 24, 32),
            kernels: Sequence[int] = (5, 5, 3, 3), hidden: int = 128, sigmoid: bool = True) -> KeypointCNN:
    """The nose-tip network, plain as in the course: 4 conv layers (conv -> ReLU -> max-pool, no BatchNorm),
    2 fully connected, one (x, y) output.

    (B, 1, 60, 80) -> (B, 1, 2).
    """
    return KeypointCNN(1, in_size, channels, kernels, hidden, sigmoid)


PLAIN_CHANNELS = (12, 16, 24, 32, 48, 64)   # the plain network's block widths, first to sixth block
PLAIN_KERNELS = (5, 5, 3, 3, 3, 3)          # and kernel sizes


def plain_blocks(layers: int = 4, width: float = 1.0) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(channels, kernels)`` of the plain network with ``layers`` conv blocks and every block ``width`` times
    as wide: ``plain_blocks(4) == ((12, 16, 24, 32), (5, 5, 3, 3))``, ``plain_blocks(3, 2.0) == ((24, 32, 48),
    (5, 5, 3))`` (the write-up's tuning knobs: layers, channels)."""
    if not 1 <= layers <= len(PLAIN_CHANNELS):
        raise ValueError(f"layers must be 1 to {len(PLAIN_CHANNELS)} (one max-pool each), got {layers}")
    if not width > 0:
        raise ValueError(f"width must be above 0 (a factor on every block's channels), got {width}")
    return (tuple(max(1, round(c * width)) for c in PLAIN_CHANNELS[:layers]), PLAIN_KERNELS[:layers])


@torch.no_grad()
def predict_flip_averaged(model: nn.Module, x: torch.Tensor, flip_perm: Sequence[int] | None = None) -> torch.Tensor:
    """Test-time mirror averaging: the mean of the prediction on ``x`` and the un-mirrored prediction on the
    mirror image. x (B, 1, H, W) -> (B, K, 2) in [0, 1]; ``flip_perm`` pairs left/right points (None: K = 1)."""
    return 0.5 * (model(x) + mirror_points(model(x.flip(-1)), flip_perm))


def mirror_points(q: torch.Tensor, flip_perm: Sequence[int] | None = None) -> torch.Tensor:
    """Points (B, K, 2) in [0, 1] fractions predicted on mirror images, mirrored back (u -> 1 - u) with their
    left/right roles swapped back by ``flip_perm`` (None: K = 1)."""
    q = q.clone()
    q[..., 0] = 1.0 - q[..., 0]
    return q if flip_perm is None else q[:, list(flip_perm)]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
