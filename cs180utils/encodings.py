"""Sinusoidal positional encoding, exactly as the course states it.

    PE(x) = {x, sin(2^0 pi x), cos(2^0 pi x), sin(2^1 pi x), cos(2^1 pi x), ..., sin(2^(L-1) pi x), cos(2^(L-1) pi x)}

applied to every coordinate, so a ``d``-dimensional input becomes ``d * (2L + 1)`` numbers
(a 2-D pixel with L = 10 -> 42; a 3-D point with L = 10 -> 63; a direction with L = 4 -> 27).

Layout of the output (last axis): ``[x (d), sin(2^0 pi x) (d), cos(2^0 pi x) (d), sin(2^1 pi x) (d), ...]``.

Precision note: in float32, ``2^k * pi * x`` keeps ~24 significant bits, so for k >= ~20 the phase of the
sine is already mostly rounding error, and for k >= 24 the argument is a multiple of 2 pi-ish garbage: the
highest frequencies of L = 55 or 60 carry no information about ``x`` at all (notebook 01 shows this).
"""
from __future__ import annotations

import math

import torch
from torch import nn


def positional_encoding(x: torch.Tensor, num_freqs: int, include_input: bool = True) -> torch.Tensor:
    """Encode ``x`` of shape ``(..., d)`` into ``(..., d * (2 * num_freqs + include_input))``."""
    if num_freqs < 0:
        raise ValueError(f"num_freqs (L) must be >= 0, got {num_freqs}")
    # BEGIN SOLUTION pe
    freqs = (2.0 ** torch.arange(num_freqs, dtype=x.dtype, device=x.device)) * math.pi  # (L,)
    angles = x[..., None, :] * freqs[:, None]  # (..., L, d)
    # interleave per frequency: sin(f_k x), cos(f_k x) -> (..., L, 2, d) -> (..., 2 L d)
    sincos = torch.stack((torch.sin(angles), torch.cos(angles)), dim=-2).flatten(-3)
    return torch.cat((x, sincos), dim=-1) if include_input else sincos
    # END SOLUTION


class PositionalEncoding(nn.Module):
    """``nn.Module`` wrapper of :func:`positional_encoding` that knows its output width."""

    def __init__(self, in_dim: int, num_freqs: int, include_input: bool = True):
        super().__init__()
        self.in_dim, self.num_freqs, self.include_input = in_dim, num_freqs, include_input
        self.out_dim = in_dim * (2 * num_freqs + int(include_input))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., in_dim) -> (..., out_dim)
        if x.shape[-1] != self.in_dim:
            raise ValueError(f"PositionalEncoding expected last dim {self.in_dim}, got shape {tuple(x.shape)}")
        return positional_encoding(x, self.num_freqs, self.include_input)

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, L={self.num_freqs}, out_dim={self.out_dim}"
