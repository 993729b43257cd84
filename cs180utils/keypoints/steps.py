"""The training steps of the keypoint networks (notebooks 05-09): one batch in, its loss out.

A step is what a CS180 student writes inside the training loop: the forward pass and the loss of one batch.
It returns the loss (a scalar tensor) to the loop that called it, which then does the rest of one optimizer
step, the same for every network of the workbook::

    loss = regression_step(model, images, keypoints, size)      # or heatmap_step(...)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

(the machinery's :func:`cs180utils.machinery.training.train_loop`, which also schedules the learning rate, and on
a GPU runs the step under mixed precision). Drawing the batch, augmenting it and moving it to the device happen
before the step; keypoints arrive in continuous pixel coordinates of the network input
(:mod:`cs180utils.keypoints`).

- :func:`regression_step`: the networks that output the points as numbers, the nose-tip and all-points CNNs
  (notebooks 05-06, MSE) and the ResNet (notebook 07, L1).
- :func:`heatmap_step`: the U-Nets that output one heatmap per point (notebooks 08-09, cross-entropy over each
  map by default).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cs180utils.keypoints import heatmaps as hm

REGRESSION_LOSSES = ("mse", "l1")


def regression_step(model: nn.Module, images: torch.Tensor, keypoints: torch.Tensor, size,
                    loss: str = "mse") -> torch.Tensor:
    """The loss of one batch for a network that predicts keypoints as fractions of its input's size.

    images (B, C, H, W); keypoints (B, K, 2) pixels (x, y) of the input; ``size`` the input's (W, H) (a (2,)
    tensor) or the side S of a square crop: ``keypoints / size`` are the numbers the network learns, 0 at the
    left / top edge and 1 at the right / bottom one. ``loss``: ``"mse"`` (the CNNs) or ``"l1"`` (the ResNet).
    Returns the scalar loss; the loop back-propagates it and steps the optimizer.
    """
    pred = model(images)                                   # (B, K, 2) fractions of the input size
    target = keypoints / size                              # (B, K, 2) the same units
    return regression_loss(pred, target, loss)


def regression_loss(pred: torch.Tensor, target: torch.Tensor, loss: str = "mse") -> torch.Tensor:
    """The loss of predicted keypoints ``pred`` against ``target`` (both (B, K, 2), the same units):
    ``"mse"`` (mean of the squared differences over B, K and x/y) or ``"l1"`` (mean absolute difference)."""
    if loss == "mse":
        return F.mse_loss(pred, target)                    # mean of (pred - target)^2 over B, K and x/y
    if loss == "l1":
        return (pred - target).abs().mean()                # mean absolute error
    raise ValueError(f"unknown regression loss {loss!r}: use 'mse' or 'l1'")


def heatmap_step(model: nn.Module, images: torch.Tensor, keypoints: torch.Tensor, target: str = "gaussian",
                 sigma: float = 2.0, loss: str = "ce") -> torch.Tensor:
    """The loss of one batch for a network that outputs one heatmap per keypoint, as big as its input.

    images (B, C, S, S); keypoints (B, K, 2) pixels (x, y) of the input, which are the heatmaps' pixels too.
    ``target``: ``"gaussian"`` (a blob of standard deviation ``sigma`` pixels at each point) or ``"binary"``
    (1 at the point's pixel). ``loss``: ``"ce"`` (each map a softmax over its pixels, cross-entropy against the
    target normalised to sum 1), ``"mse"`` or ``"bce"`` per pixel (:func:`heatmaps.heatmap_loss`). The targets
    are made for the whole batch on the device, as the two 1-D factors of each separable map
    (:func:`heatmaps.factored_targets`): the loss is the one of the full (B, K, S, S) targets, to rounding.
    Returns the scalar loss; the loop back-propagates it and steps the optimizer.
    """
    logits = model(images)                                                       # (B, K, H, W)
    targets = hm.factored_targets(keypoints, logits.shape[-2:], target, sigma)   # (B, K, H) and (B, K, W)
    return hm.heatmap_loss(logits, targets, loss)                                # scalar
