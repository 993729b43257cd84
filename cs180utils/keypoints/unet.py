"""A U-Net from small named blocks (Ronneberger et al. 2015), for keypoint heatmaps (notebooks 08-09).

    DoubleConv  (conv3x3 -> BN -> ReLU) x 2
    Down        maxpool 2 -> DoubleConv
    Up          bilinear upsample x2 -> pad to the skip's size -> concat skip -> DoubleConv
    OutConv     conv1x1 to one channel per keypoint

``UNet(in_channels=1, out_channels=68, widths=(16, 32, 64, 128))``: len(widths) - 1 downsamplings; the
output has the input's height and width (any size, odd ones included).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


class DoubleConv(nn.Sequential):
    """(B, C_in, H, W) -> (B, C_out, H, W): two 3x3 conv + BatchNorm + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None):
        mid = mid_channels or out_channels
        super().__init__(
            nn.Conv2d(in_channels, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True))


class Down(nn.Sequential):
    """(B, C_in, H, W) -> (B, C_out, H // 2, W // 2): max-pool then DoubleConv."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))


class Up(nn.Module):
    """(B, C_in, h, w) and skip (B, C_skip, H, W) -> (B, C_out, H, W): upsample, concat the skip, DoubleConv."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int):
        super().__init__()
        self.conv = DoubleConv(in_channels + skip_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        dy, dx = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]  # odd sizes: pad by 1
        if dy or dx:
            x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class OutConv(nn.Conv2d):
    """(B, C_in, H, W) -> (B, C_out, H, W): 1x1 convolution."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, kernel_size=1)


class UNet(nn.Module):
    """(B, in_channels, H, W) -> (B, out_channels, H, W) heatmap logits.

    Args:
        in_channels: 1 for grayscale faces.
        out_channels: one heatmap per keypoint (68 for 300-W).
        widths: channels at each resolution, finest first; ``len(widths) - 1`` poolings, so H and W lose
            nothing if divisible by ``2 ** (len(widths) - 1)`` (other sizes work, with padding).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 68, widths: Sequence[int] = (16, 32, 64, 128)):
        super().__init__()
        widths = list(widths)
        if len(widths) < 2:
            raise ValueError(f"widths needs at least two levels, e.g. (16, 32, 64, 128); got {widths}")
        self.inc = DoubleConv(in_channels, widths[0])
        self.downs = nn.ModuleList(Down(a, b) for a, b in zip(widths[:-1], widths[1:]))
        ups, c = [], widths[-1]
        for skip in reversed(widths[:-1]):
            ups.append(Up(c, skip, skip))
            c = skip
        self.ups = nn.ModuleList(ups)
        self.outc = OutConv(widths[0], out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        min_side = 2 ** len(self.downs)
        if x.ndim != 4 or min(x.shape[-2:]) < min_side:
            raise ValueError(f"UNet expects (B, C, H, W) with H, W >= {min_side}; got {tuple(x.shape)}")
        skips = [self.inc(x)]                        # (B, w0, H, W)
        for down in self.downs:
            skips.append(down(skips[-1]))            # (B, w_i, H / 2^i, W / 2^i)
        x = skips.pop()
        for up in self.ups:
            x = up(x, skips.pop())
        return self.outc(x)                          # (B, out_channels, H, W)
