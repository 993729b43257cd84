"""Image values, once: float images in [0, 1] to uint8, and PSNR.

Images are ``(..., H, W, C)`` (or any shape) floats in [0, 1], as torch tensors or numpy arrays.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def to_uint8(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """Float image(s) in [0, 1] -> uint8 numpy of the same shape (clipped, rounded to nearest)."""
    if isinstance(image, torch.Tensor):
        image = image.detach().float().cpu().numpy()
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def mse_to_psnr(mse: float) -> float:
    """PSNR in dB of images in [0, 1] from their mean squared error: ``-10 log10(mse)`` (inf for 0)."""
    return float("inf") if mse <= 0 else -10.0 * math.log10(mse)


def psnr(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray) -> float:
    """PSNR in dB of ``pred`` against ``target`` (same shape, values in [0, 1]); MSE floored at 1e-10."""
    pred = torch.as_tensor(pred, dtype=torch.float64) if not isinstance(pred, torch.Tensor) else pred.double()
    target = torch.as_tensor(target, dtype=torch.float64) if not isinstance(target, torch.Tensor) else target.double()
    if pred.shape != target.shape:
        raise ValueError(f"psnr needs images of one shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    mse = torch.mean((pred - target.to(pred.device)) ** 2).clamp_min(1e-10)
    return float(-10.0 * torch.log10(mse))
