"""Part 1 of the NeRF project: a neural field fitted to a 2-D image (notebook 01, ``train field2d``).

- ``images``: load an image (Grace Hopper by default, the course's fox, a terrain map, any path) and turn
  it into ``(u/W, v/H) -> RGB`` training pairs.
- ``model``: ``NeuralField2D`` (encoding + MLP + sigmoid), chunked ``render``.
- ``experiment``: ``FitConfig`` and its ``PRESETS`` per profile (``GRID_PRESETS`` on top for ``encoding="grid"``,
  the multiresolution grid of ``cs180utils.grid_encoding``), ``config``, ``load``, ``build``, ``fit`` (random
  pixel batches, MSE, Adam, on the one training loop; resumable), ``evaluate`` (whole-image PSNR),
  ``run_folder`` and ``cached_fit`` (the run folder shared with the command line).
- ``studies``: notebook 01's L x D grid, the fit on every other pixel, and the write-up's sweep (``SweepConfig``,
  ``SWEEP_PRESETS``: L 20..55 at D = 256, D 32..256 at L = 55) scored on seen and unseen pixels.
- ``precision``: what float32 does to positional-encoding frequencies 2^k pi for large k.
- ``plots``: render strips, PSNR curves, the L x D grid.
- ``cli``: ``python -m cs180utils train field2d``.
"""
from cs180utils.field2d.experiment import FitConfig, FitResult, cached_fit, fit
from cs180utils.field2d.images import image_to_targets, load_image, pixel_coords
from cs180utils.field2d.model import NeuralField2D, render

__all__ = ["FitConfig", "FitResult", "NeuralField2D", "cached_fit", "fit", "image_to_targets", "load_image",
           "pixel_coords", "render"]
