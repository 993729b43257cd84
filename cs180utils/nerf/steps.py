"""The NeRF training step a CS180 student writes: render a batch of rays, compare with the pixels' colours.

    loss, logs = nerf_step(model, rays_o, rays_d, target, generator)   # rays_o, rays_d, target: (R, 3)

The training loop (``cs180utils.machinery.training.train_loop``, through ``experiment.train``) draws the batch,
calls this, then does ``optimizer.zero_grad()``, ``loss.backward()`` and ``optimizer.step()``.
"""
from __future__ import annotations

import torch

from cs180utils.images import mse_to_psnr
from cs180utils.nerf.model import NeRF


def nerf_step(model: NeRF, rays_o: torch.Tensor, rays_d: torch.Tensor, target: torch.Tensor,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
    """One training step's loss: rays ``rays_o``, ``rays_d`` (R, 3) rendered with jittered samples (``generator``
    draws the jitter), the mean squared error to their pixels' colours ``target`` (R, 3) in [0, 1], plus the
    coarse field's when sampling is hierarchical (both fields learn).

    Returns ``(loss, {"psnr": PSNR of the rendered colours in dB})``; the caller back-propagates ``loss`` and
    steps the optimizer (zero_grad -> backward -> step)."""
    out = model(rays_o, rays_d, perturb=True, generator=generator)             # "rgb" (R, 3), "acc" (R,), ...
    mse = torch.mean((out["rgb"] - target) ** 2)                               # () the photometric loss
    loss = mse
    if "coarse_rgb" in out:                                                    # hierarchical: (R, 3) coarse
        loss = loss + torch.mean((out["coarse_rgb"] - target) ** 2)
    return loss, {"psnr": psnr_log(mse.detach())}


def psnr_log(mse: torch.Tensor) -> float | torch.Tensor:
    """PSNR = -10 log10(MSE) of a step for the training history: a float on the CPU; on a GPU a tensor the
    training loop reads every few steps (a float here would wait for the GPU at every step)."""
    return mse_to_psnr(float(mse)) if mse.device.type == "cpu" else -10.0 * torch.log10(mse.float())
