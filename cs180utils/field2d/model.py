"""The 2-D neural field: an encoding of pixel coordinates followed by an MLP that outputs a colour.

Default (the course's figure): ``PE(L=10)`` of ``(u, v)`` -> 42 numbers -> Linear(42, 256) -> ReLU ->
Linear(256, 256) -> ReLU -> Linear(256, 256) -> ReLU -> Linear(256, 3) -> Sigmoid.

Any encoding module with an ``out_dim`` attribute can replace the positional encoding (``encoding=``),
e.g. a multiresolution grid (``benchmarks/field2d.py``).
"""
from __future__ import annotations

import torch
from torch import nn

from cs180utils.encodings import PositionalEncoding


def mlp(in_dim: int, width: int, depth: int, out_dim: int) -> nn.Sequential:
    """``depth`` Linear layers (``depth - 1`` hidden layers of ``width`` with ReLU), no output activation."""
    if depth < 1 or width < 1:
        raise ValueError(f"MLP needs depth >= 1 and width >= 1, got depth={depth}, width={width}")
    # BEGIN SOLUTION field_mlp
    dims = [in_dim] + [width] * (depth - 1) + [out_dim]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < depth - 1:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)
    # END SOLUTION


class NeuralField2D(nn.Module):
    """Maps normalised pixel coordinates to RGB.

    Args:
        encoding: a module mapping ``(R, 2) -> (R, encoding.out_dim)``; default ``PositionalEncoding(2, L)``.
        L: number of PE frequencies (used only when ``encoding`` is None): ``2 * (2L + 1)`` inputs to the MLP.
        width: hidden width of the MLP (the course's D, default 256).
        depth: number of Linear layers (default 4, the course's figure).

    ``forward(coords (R, 2)) -> colors (R, 3)`` in ``(0, 1)`` (sigmoid).
    """

    def __init__(self, encoding: nn.Module | None = None, L: int = 10, width: int = 256, depth: int = 4):
        super().__init__()
        self.encoding = encoding if encoding is not None else PositionalEncoding(2, L)
        if not hasattr(self.encoding, "out_dim"):
            raise ValueError(f"encoding {type(self.encoding).__name__} must have an `out_dim` attribute "
                             f"(the width of its output)")
        self.L, self.width, self.depth = (L if encoding is None else None), width, depth
        self.mlp = mlp(int(self.encoding.out_dim), width, depth, 3)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        if coords.ndim != 2 or coords.shape[-1] != 2:
            raise ValueError(f"NeuralField2D expects coordinates of shape (R, 2), got {tuple(coords.shape)}")
        # BEGIN SOLUTION field_mlp
        return torch.sigmoid(self.mlp(self.encoding(coords)))  # (R, 3)
        # END SOLUTION


@torch.no_grad()
def render(model: nn.Module, height: int, width: int, chunk: int = 1 << 16,
           coords: torch.Tensor | None = None) -> torch.Tensor:
    """Evaluate the field at every pixel, ``chunk`` pixels at a time (bounded memory).

    Returns ``(H, W, 3)`` float on the model's device. ``coords`` (``(H*W, 2)``) overrides the pixel grid
    (e.g. sub-pixel positions for upsampling).
    """
    from cs180utils.field2d.images import pixel_coords  # noqa: PLC0415

    p = next(model.parameters())
    if coords is None:
        coords = pixel_coords(height, width, dtype=p.dtype, device=p.device)  # (H*W, 2)
    if coords.shape != (height * width, 2):
        raise ValueError(f"coords must have shape ({height * width}, 2), got {tuple(coords.shape)}")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    was_training = model.training
    model.eval()
    out = torch.cat([model(c.to(device=p.device, dtype=p.dtype)) for c in coords.split(chunk)])  # (H*W, 3)
    model.train(was_training)
    return out.reshape(height, width, 3)
