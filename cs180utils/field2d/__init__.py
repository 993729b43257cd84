"""Part 1 of the NeRF project: a neural field fitted to a 2-D image (notebook 01).

- ``images``: load an image (Grace Hopper by default, a terrain map, any path) and turn it into
  ``(u/W, v/H) -> RGB`` training pairs.
- ``model``: ``NeuralField2D`` (encoding + MLP + sigmoid), chunked ``render``.
- ``precision``: what float32 does to positional-encoding frequencies 2^k pi for large k.
- ``steps``: the training step, ``pixel_step`` (a random batch of pixels -> the MSE of their colours).

The loop that calls the step and its settings (``FitConfig``, presets, ``fit``), the studies, plots and
``python -m cs180utils train field2d`` are the machinery's: :mod:`cs180utils.machinery.field2d`.
"""
from cs180utils.field2d.images import image_to_targets, load_image, pixel_coords
from cs180utils.field2d.model import NeuralField2D, render

__all__ = ["NeuralField2D", "image_to_targets", "load_image", "pixel_coords", "render"]
