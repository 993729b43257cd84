"""Images for the 2-D neural field: loading, pixel coordinates and colour targets.

:func:`load_image` reads an image file (jpg, png, ...) or takes an array; the named images of notebook 01
(``"hopper"``, ``"fox"``, ``"terrain"``) are found by the machinery (:func:`cs180utils.machinery.sources.load_image`).

Conventions (as the course states them): colours in ``[0, 1]``; a pixel at column ``u`` and row ``v`` has
coordinates ``(u / W, v / H)``; flattened pixels are in row-major order, so ``colors.reshape(H, W, 3)`` is
the image again.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from cs180utils.images import to_uint8
from cs180utils.readers import DataNotFoundError, read_image

MIN_SIDE = 2   # pixels: a field over fewer has nothing to fit between them


def as_float_image(image) -> np.ndarray:
    """Any image array (``(H, W)``, ``(H, W, 1|3|4)``; uint8 or float in ``[0, 1]``; numpy or torch) ->
    ``(H, W, 3)`` float32 in ``[0, 1]``. Alpha is dropped; grey is repeated to 3 channels."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
        raise ValueError(f"expected an image of shape (H, W), (H, W, 3) or (H, W, 4), got {a.shape}")
    if min(a.shape[:2]) < MIN_SIDE:
        raise ValueError(f"an image of {a.shape[1]} x {a.shape[0]} pixels is too small for a 2-D field (at least "
                         f"{MIN_SIDE} x {MIN_SIDE}); pass a larger image")
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    elif np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float32)
        if not np.isfinite(a).all() or a.min() < -1e-6 or a.max() > 1 + 1e-6:
            raise ValueError(f"a float image must hold values in [0, 1] (got [{a.min():.3g}, {a.max():.3g}]); "
                             f"divide uint8 images by 255")
        a = np.clip(a, 0.0, 1.0)
    else:
        raise ValueError(f"image dtype {a.dtype} not understood: pass uint8 (0..255) or float (0..1)")
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return np.ascontiguousarray(a[..., :3])


def downscale(image: np.ndarray, image_size: int | None) -> np.ndarray:
    """Downscale ``(H, W, 3)`` float so that ``max(H, W) <= image_size`` (Lanczos, aspect kept). ``None``: as is."""
    if not image_size or max(image.shape[:2]) <= image_size:
        return image
    from PIL import Image  # noqa: PLC0415

    h, w = image.shape[:2]
    s = image_size / max(h, w)
    size = (max(2, round(w * s)), max(2, round(h * s)))
    pil = Image.fromarray(to_uint8(image))
    return np.asarray(pil.resize(size, Image.LANCZOS), dtype=np.float32) / 255.0


def _read(path: str | os.PathLike) -> np.ndarray:
    """:func:`cs180utils.readers.read_image` (the one image reader; ``~`` expanded) as ``(H, W, 3)`` float32 in
    ``[0, 1]``."""
    p = Path(path).expanduser()
    try:
        return as_float_image(read_image(p, what="image", min_side=MIN_SIDE))
    except DataNotFoundError as exc:
        raise DataNotFoundError(f"{exc}: pass an existing jpg/png path, or one of 'hopper', 'fox', "
                                f"'terrain'") from None


def load_image(source, image_size: int | None = None) -> tuple[np.ndarray, str]:
    """An image file (path) or an array as ``(image, name)``: ``image`` is ``(H, W, 3)`` float32 in ``[0, 1]``
    (downscaled so that its longer side is at most ``image_size`` if given); ``name`` is the file's stem, or
    ``"array"``."""
    if isinstance(source, (str, os.PathLike)):
        image, name = _read(source), Path(source).stem
    else:
        image, name = as_float_image(source), "array"
    return downscale(image, image_size), name


def image_digest(image: np.ndarray) -> str:
    """A short content hash of an image (its shape and 8-bit pixels): the key of cached fits."""
    q = to_uint8(image)
    h = hashlib.sha1(str(q.shape).encode())
    h.update(np.ascontiguousarray(q).tobytes())
    return h.hexdigest()[:16]


def pixel_coords(height: int, width: int, dtype: torch.dtype = torch.float32,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """Normalised coordinates of every pixel, row-major. Returns ``(H*W, 2)`` with columns ``(u/W, v/H)``."""
    v, u = torch.meshgrid(torch.arange(height, device=device, dtype=torch.float64),
                          torch.arange(width, device=device, dtype=torch.float64), indexing="ij")  # (H, W) each
    return torch.stack((u / width, v / height), dim=-1).reshape(-1, 2).to(dtype)  # (H*W, 2)


def image_to_targets(image, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Image -> training pairs. Returns ``coords (H*W, 2)`` in ``[0, 1)`` and ``colors (H*W, 3)`` in ``[0, 1]``."""
    img = as_float_image(image)
    h, w = img.shape[:2]
    colors = torch.from_numpy(img).reshape(-1, 3).to(device=device, dtype=dtype)  # (H*W, 3)
    return pixel_coords(h, w, dtype, device), colors
