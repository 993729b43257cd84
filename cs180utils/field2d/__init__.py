"""Part 1 of the NeRF project: a neural field fitted to a 2-D image (notebook 01, ``train field2d``).

- ``images``: load an image (Grace Hopper by default, the course's fox, a terrain map, any path) and turn
  it into ``(u/W, v/H) -> RGB`` training pairs.
- ``model``: ``NeuralField2D`` (encoding + MLP + sigmoid), chunked ``render``, ``mse_to_psnr``.
- ``train``: ``FitConfig``, ``fit_image`` (random pixel batches, MSE, Adam; resumable), ``cached_fit``.
- ``precision``: what float32 does to positional-encoding frequencies 2^k pi for large k.
- ``cli``: ``python -m cs180utils train field2d``.
"""
from cs180utils.field2d.images import image_to_targets, load_image, pixel_coords
from cs180utils.field2d.model import NeuralField2D, mse_to_psnr, render
from cs180utils.field2d.train import FitConfig, FitResult, cached_fit, fit_image

__all__ = ["FitConfig", "FitResult", "NeuralField2D", "cached_fit", "fit_image", "image_to_targets",
           "load_image", "mse_to_psnr", "pixel_coords", "render"]
