"""cs180utils: the course library of the CS180 workbook (neural fields / NeRF, facial keypoints).

What a CS180 student writes or reads, importing torch, torchvision, numpy and image libraries only:

- ``encodings`` (positional encoding), ``grid_encoding`` (multiresolution grids), ``images`` (PSNR, uint8),
  ``readers`` (``.npz`` and image files with clear errors)
- ``field2d``: the 2-D neural field (notebook 01)
- ``nerf``: rays, samplers, volume rendering, fields, the model, the fast field and its occupancy grid (02-04, 10)
- ``keypoints``: the IMM and 300-W readers, augmentation, the CNNs, ResNet18, the U-Net, heatmaps, metrics (05-09)

Everything that runs the course rather than being it -- the training loop, profiles and presets, run folders, the
command line, downloads, notebook helpers, plots, the assignment tooling, Colab set-up -- is the machinery:
:mod:`cs180utils.machinery`, which imports the course library and never the other way round
(``tests/test_imports.py``). Command line: ``python -m cs180utils --help``.
"""
__version__ = "0.1.0"
