"""The training step of the 2-D neural field (notebook 01): a random batch of pixels in, their MSE out.

A step is what a CS180 student writes inside the training loop. It returns the loss (a scalar tensor) to the
loop that called it, which then does the rest of one optimizer step::

    loss = pixel_step(model, coords, colors, batch_size, generator)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

(the machinery's :func:`cs180utils.machinery.training.train_loop`, with Adam at a constant learning rate for the
field: :mod:`cs180utils.machinery.field2d.experiment`).
"""
from __future__ import annotations

import torch
from torch import nn


def pixel_step(model: nn.Module, coords: torch.Tensor, colors: torch.Tensor, batch_size: int,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """The loss of one step: the mean squared error of the field's colours at ``batch_size`` random pixels.

    coords (P, 2) every pixel's (u / W, v / H) (column u, row v) and colors (P, 3) its RGB in [0, 1] (from
    :func:`cs180utils.field2d.images.image_to_targets`), on the model's device. The pixels are drawn uniformly,
    with replacement, by ``generator`` on the CPU (the same batches on every device). Returns the scalar loss;
    the loop back-propagates it and steps the optimizer.
    """
    idx = torch.randint(coords.shape[0], (batch_size,), generator=generator).to(coords.device)   # (B,)
    pred = model(coords[idx])                                # (B, 3) the field's RGB at those pixels
    return torch.mean((pred - colors[idx]) ** 2)             # MSE over the batch and the 3 channels
