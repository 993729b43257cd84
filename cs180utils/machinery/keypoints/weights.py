"""ImageNet weights for the ResNet of notebook 07, through the workbook's downloader.

torchvision's ``IMAGENET1K_V1`` file is downloaded once into torch's own cache (``torch.hub.get_dir()/checkpoints``,
where torchvision looks too): resumable, timed out, its sha256 checked against the prefix in the file name.
Without a network (or with ``CS180_OFFLINE=1``, or a bad file) :func:`load_imagenet_resnet18` returns None with a
notice saying why and where to put the file by hand. ``CS180_RESNET18_URL`` points the download elsewhere (a
mirror; the tests' local server).

    >>> KeypointResNet(68, 1, mean_shape=mean01, backbone=load_imagenet_resnet18())   # None: from scratch
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import torch
import torch.nn as nn
from torchvision.models import ResNet18_Weights, resnet18

from cs180utils.machinery.data.download import DownloadError, download_url, offline, sha256_of

IMAGENET_URL = ResNet18_Weights.IMAGENET1K_V1.url   # .../resnet18-f37072fd.pth: the sha256 starts f37072fd
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")    # torch.hub's convention: name-<sha256 prefix>.ext


def imagenet_weights_url(url: str | None = None) -> str:
    """``url``, else ``$CS180_RESNET18_URL``, else torchvision's ImageNet resnet18 file."""
    return url or os.environ.get("CS180_RESNET18_URL") or IMAGENET_URL


def imagenet_weights_path(url: str | None = None) -> Path:
    """Where the weights of :func:`imagenet_weights_url` are cached: torch's hub folder."""
    url = imagenet_weights_url(url)
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rstrip("/").rsplit("/", 1)[-1]


def load_imagenet_resnet18(url: str | None = None, progress: bool = True) -> nn.Module | None:
    """torchvision's resnet18 with ImageNet weights, or None (with a notice on stderr saying why and what to do)
    when they can't be had: offline, unreachable, cut short (the next call resumes), a file whose sha256 does
    not match the prefix in its name or that is not a resnet18 state dict (deleted, so the next call downloads
    it again)."""
    url = imagenet_weights_url(url)
    dest = imagenet_weights_path(url)
    by_hand = f"put the file from {url} at {dest}"

    def notice(why: str) -> None:
        print(f"NOTICE: ImageNet weights for resnet18 unavailable ({why}); training from scratch. "
              f"To use them, {by_hand}.", file=sys.stderr)

    if not dest.is_file():
        if offline():
            notice("downloads are disabled: CS180_OFFLINE is set")
            return None
        unverified = dest.with_name(dest.name + ".unverified")   # (its .part resumes a cut download)
        try:
            download_url(url, unverified, progress=progress, what="resnet18 ImageNet weights", hint="")
        except (DownloadError, OSError, ValueError) as exc:
            notice(str(exc).strip())
            return None
        prefix = _HASH_IN_NAME.search(dest.name)
        if prefix and not sha256_of(unverified).startswith(prefix.group(1)):
            unverified.unlink()
            notice(f"the download's sha256 does not start with {prefix.group(1)}, as its name says; deleted")
            return None
        os.replace(unverified, dest)
    net = resnet18(weights=None)
    try:
        net.load_state_dict(torch.load(dest, map_location="cpu", weights_only=True))
    except Exception as exc:  # not a state dict, truncated, another architecture
        dest.unlink(missing_ok=True)
        notice(f"{dest} is not a resnet18 state dict ({type(exc).__name__}); deleted")
        return None
    return net
