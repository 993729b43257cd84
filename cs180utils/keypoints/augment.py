"""Data augmentation for keypoint regression with ``torchvision.transforms.v2``: the keypoints are
``tv_tensors.KeyPoints`` and follow the image through every geometric transform.

    >>> aug = KeypointAugment(AugmentConfig(rotation=15, shift_px=10, brightness=0.3))
    >>> img2, kp2 = aug(img, kp)        # img (1, H, W) in [-0.5, 0.5], kp (K, 2) pixels (x, y)
    >>> imgs2, kps2 = aug(imgs, kps)    # a batch: (B, 1, H, W), (B, K, 2); each sample drawn independently

Images are grayscale float tensors in the dataset's convention, pixel values in ``value_range`` (default
[-0.5, 0.5]); brightness is applied in [0, 1] and mapped back. Keypoints are continuous pixel coordinates of
the image (pixel ``i`` covers ``[i, i + 1)``, torchvision's convention for ``KeyPoints``): the package's one
convention, stated in :mod:`cs180utils.keypoints`.

A mirror (``hflip``) swaps left and right landmarks: :func:`flip_permutation` finds the pairs from a mean
shape. It is done here (``x -> W - x``) rather than with ``v2.RandomHorizontalFlip``, whose keypoint
flip uses ``W - 1 - x`` and so disagrees with the image by one pixel in the coordinates above.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torchvision import tv_tensors
from torchvision.transforms import v2


@dataclass
class AugmentConfig:
    brightness: float = 0.3                 # brightness factor drawn from [1 - b, 1 + b]; 0 = off
    rotation: float = 15.0                  # degrees, drawn from [-r, r] about the image centre; 0 = off
    shift_px: float = 10.0                  # translation in pixels, each axis from [-s, s]; 0 = off
    scale: tuple[float, float] | None = None  # zoom range, e.g. (0.9, 1.1); None = off
    hflip: float = 0.0                      # probability of a left-right mirror (needs flip_perm for K > 1)
    flip_perm: tuple[int, ...] | None = None  # keypoint i of the mirror image is keypoint flip_perm[i]
    value_range: tuple[float, float] = (-0.5, 0.5)  # pixel value range of the images given and returned


class KeypointAugment(nn.Module):
    """Random affine (rotation, shift, scale) + brightness; keypoints move with the image.

    forward(image, keypoints):
        image:     (C, H, W) or (B, C, H, W) float, values in ``cfg.value_range``
        keypoints: (K, 2) or (B, K, 2), (x, y) continuous pixel coordinates of the image
    returns the transformed ``(image, keypoints)`` as plain tensors of the same shapes. Keypoints pushed
    outside the image are kept (not clamped) so the loss still sees where they went.
    """

    def __init__(self, cfg: AugmentConfig | None = None):
        super().__init__()
        self.cfg = cfg or AugmentConfig()
        self._geometric: v2.Transform | None = None
        self._size: tuple[int, int] | None = None
        self._photometric = v2.ColorJitter(brightness=self.cfg.brightness) if self.cfg.brightness > 0 else None

    def _affine(self, h: int, w: int) -> v2.Transform | None:
        c = self.cfg
        if (h, w) != self._size:
            self._size = (h, w)
            if c.rotation == 0 and c.shift_px == 0 and c.scale is None:
                self._geometric = None
            else:
                # RandomAffine's translate is a fraction of the image size: shift_px pixels each way.
                translate = (min(c.shift_px / w, 1.0), min(c.shift_px / h, 1.0)) if c.shift_px else None
                self._geometric = v2.RandomAffine(degrees=c.rotation, translate=translate, scale=c.scale,
                                                  interpolation=v2.InterpolationMode.BILINEAR, fill=0)
        return self._geometric

    def _one(self, image: torch.Tensor, kp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = image.shape[-2:]
        lo, hi = self.cfg.value_range
        x = tv_tensors.Image((image - lo) / (hi - lo))            # (C, H, W) in [0, 1]; fill 0 = black
        k = tv_tensors.KeyPoints(kp, canvas_size=(h, w))
        # BEGIN SOLUTION augment
        geo = self._affine(h, w)
        if geo is not None:
            x, k = geo(x, k)
        if self.cfg.hflip > 0 and float(torch.rand(())) < self.cfg.hflip:
            x = tv_tensors.wrap(x.flip(-1), like=x)
            flipped = k.as_subclass(torch.Tensor).clone()
            flipped[..., 0] = w - flipped[..., 0]
            if self.cfg.flip_perm is not None:
                flipped = flipped[..., list(self.cfg.flip_perm), :]
            elif flipped.shape[-2] > 1:
                raise ValueError("hflip of several keypoints needs AugmentConfig.flip_perm (see flip_permutation)")
            k = tv_tensors.wrap(flipped, like=k)
        # END SOLUTION
        if self._photometric is not None:
            x = self._photometric(x)
        out = x.as_subclass(torch.Tensor) * (hi - lo) + lo
        kp_out = k.as_subclass(torch.Tensor)
        return out, kp_out.to(kp.dtype)

    def forward(self, image: torch.Tensor, keypoints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if image.ndim == 3 and keypoints.ndim == 2:
            return self._one(image, keypoints)
        if image.ndim == 4 and keypoints.ndim == 3 and image.shape[0] == keypoints.shape[0]:
            pairs = [self._one(i, k) for i, k in zip(image, keypoints)]
            return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
        raise ValueError(f"augment expects image (C, H, W) with keypoints (K, 2), or a batch (B, C, H, W) with "
                         f"(B, K, 2); got {tuple(image.shape)} and {tuple(keypoints.shape)}")


def transform_fixed(image: torch.Tensor, keypoints: torch.Tensor, angle: float = 0.0,
                    shift: tuple[float, float] = (0.0, 0.0), scale: float = 1.0, brightness: float = 1.0,
                    value_range: tuple[float, float] = (-0.5, 0.5)) -> tuple[torch.Tensor, torch.Tensor]:
    """One chosen transform (for sliders and checks): rotate by ``angle`` degrees about the centre, shift by
    ``shift`` = (dx, dy) pixels, zoom by ``scale``, multiply brightness by ``brightness``.

    image (C, H, W) in ``value_range``; keypoints (K, 2) continuous pixels. Returns the same shapes.
    """
    h, w = image.shape[-2:]
    lo, hi = value_range
    x = tv_tensors.Image((image - lo) / (hi - lo))
    k = tv_tensors.KeyPoints(keypoints, canvas_size=(h, w))
    x, k = v2.functional.affine(x, angle=angle, translate=list(shift), scale=scale, shear=[0.0, 0.0],
                                interpolation=v2.InterpolationMode.BILINEAR, fill=0), \
        v2.functional.affine(k, angle=angle, translate=list(shift), scale=scale, shear=[0.0, 0.0])
    x = v2.functional.adjust_brightness(x, brightness)
    return x.as_subclass(torch.Tensor) * (hi - lo) + lo, k.as_subclass(torch.Tensor)


def flip_permutation(mean_shape, eyes: tuple[int, int]) -> tuple[int, ...]:
    """The left-right pairing of a layout's keypoints from its mean shape ``(K, 2)``: mirror the shape about
    the vertical line halfway between the outer eye corners and match each point to the nearest one.
    Points on the midline (nose tip, chin) map to themselves. Raises ValueError if the result is not a
    consistent pairing (not an involution), e.g. for a strongly asymmetric mean shape."""
    m = torch.as_tensor(mean_shape, dtype=torch.float64).reshape(-1, 2)
    cx = 0.5 * (m[eyes[0], 0] + m[eyes[1], 0])
    mirrored = torch.stack([2 * cx - m[:, 0], m[:, 1]], dim=1)
    perm = torch.cdist(mirrored, m).argmin(dim=1)                       # (K,)
    if not torch.equal(perm[perm], torch.arange(len(m))):
        raise ValueError("the mean shape's mirror pairing is not consistent; pass flip_perm by hand")
    return tuple(int(i) for i in perm)


def identity_augment() -> KeypointAugment:
    """An augment that changes nothing (all ranges 0): for a with/without comparison."""
    return KeypointAugment(AugmentConfig(brightness=0.0, rotation=0.0, shift_px=0.0, scale=None))
