"""cs180utils: the helper package of the CS180 workbook (neural fields / NeRF, facial keypoints).

Modules: ``config`` (profiles, device, seeds, paths), ``data`` (dataset resolution and downloads),
``encodings`` (positional encoding), ``checkpoint``, ``field2d``, ``nerf``, ``keypoints``.
Command line: ``python -m cs180utils --help``.
"""
__version__ = "0.1.0"
