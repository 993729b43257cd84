"""Shared by the field2d tests: a small hand-made image and tiny fit settings."""
import numpy as np


def smooth_image(h=16, w=20):
    """A hand-made (H, W, 3) image: two gradients and a disc."""
    v, u = np.mgrid[0:h, 0:w]
    img = np.stack([u / w, v / h, ((u - w / 2) ** 2 + (v - h / 2) ** 2 < (h / 3) ** 2) * 0.8 + 0.1], -1)
    return img.astype(np.float32)


TINY = dict(L=4, width=64, depth=3, batch_size=256, lr=1e-2, eval_every=50, snapshot_steps=(0, 100))
