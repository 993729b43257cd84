"""Novel views: colour and depth frames over the test cameras, written as mp4 (imageio-ffmpeg) and gif,
one frame at a time (bounded memory at any resolution). Depth is coloured red far, blue near (jet).

Rendered frames can be kept beside the model (``cache_dir``): notebook 04 shows the depth video of the very
model and cameras notebook 03 rendered, and writes it from 03's frames instead of rendering them again.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import imageio.v2 as imageio
import matplotlib
import numpy as np
import torch
from tqdm.auto import tqdm

from cs180utils.images import to_uint8
from cs180utils.nerf.model import NeRF
from cs180utils.nerf.rendering import normalize_depth


def colorize_depth(depth: torch.Tensor, acc: torch.Tensor | None = None, lo: float | None = None,
                   hi: float | None = None, min_acc: float = 0.5) -> np.ndarray:
    """Depth (H, W) -> uint8 RGB (H, W, 3): normalised to [lo, hi] (default: the foreground's range),
    blue near, red far (matplotlib's jet), background (opacity < ``min_acc``) black."""
    mask = acc > min_acc if acc is not None else torch.ones_like(depth, dtype=torch.bool)
    d = normalize_depth(depth, lo, hi, mask)
    rgb = matplotlib.colormaps["jet"](d.numpy())[..., :3]
    rgb[~mask.numpy()] = 0.0
    return to_uint8(rgb)


def depth_range(model: NeRF, c2ws: torch.Tensor) -> tuple[float, float]:
    """A fixed depth range for a whole video: camera distance to the box centre -+ the box's half diagonal
    (or the sampling range [near, far] without a box)."""
    st = model.settings
    if st.aabb is None:
        return st.near, st.far
    centre, half = st.aabb.mean(0), (st.aabb[1] - st.aabb[0]).norm() / 2
    dist = (c2ws[:, :3, 3] - centre).norm(dim=-1)
    return max(float(dist.min() - half), st.near), min(float(dist.max() + half), st.far)


def frames_key(model: NeRF, c2ws: torch.Tensor, focal: float, H: int, W: int) -> str:
    """What a video's frames depend on, as a hex digest: the model's weights and render settings, the cameras
    (T, 4, 4), the focal length and the size."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    h.update(repr(model.settings).encode())
    h.update(c2ws.detach().cpu().double().contiguous().numpy().tobytes())
    h.update(repr((float(focal), int(H), int(W))).encode())
    return h.hexdigest()[:16]


def _load_frames(path: Path, T: int, H: int, W: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Cached (rgb, depth) uint8 frames (T, H, W, 3) each, or None if missing, unreadable or of other shape."""
    try:
        with np.load(path) as z:
            rgb, dep = z["rgb"], z["depth"]
    except (OSError, KeyError, ValueError, EOFError):
        return None
    return (rgb, dep) if rgb.shape == dep.shape == (T, H, W, 3) else None


def render_video(model: NeRF, c2ws: torch.Tensor, focal: float, size: int | tuple[int, int],
                 out_dir: str | os.PathLike, name: str = "novel_views", fps: int = 15, chunk: int = 4096,
                 gif: bool = True, gif_max_size: int = 256, progress: bool = True,
                 cache_dir: str | os.PathLike | None = None) -> dict:
    """Render every camera of ``c2ws`` (T, 4, 4) at ``size`` (H = W, or (H, W)); ``focal`` is at that size.

    Writes ``{name}.mp4`` (colour), ``{name}_depth.mp4`` and, with ``gif``, ``{name}.gif`` and
    ``{name}_depth.gif`` (downscaled to at most ``gif_max_size``). Returns the paths, the frame count and
    whether the frames came from the cache (``cached``).

    With ``cache_dir`` (a trained model's run folder) the frames are also saved there, in
    ``videos/<frames_key>.npz``, and a later call with the same weights, settings, cameras and size writes its
    files from them without rendering (an unreadable cache file is rendered again). Without it, frames are
    streamed to the files one at a time."""
    H, W = (size, size) if isinstance(size, int) else size
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = Path(cache_dir) / "videos" / f"{frames_key(model, c2ws, focal, H, W)}.npz" if cache_dir else None
    cached = _load_frames(cache, len(c2ws), H, W) if cache is not None and cache.is_file() else None
    lo, hi = depth_range(model, c2ws)

    def frames():
        """(rgb, depth) uint8 frames, from the cache or rendered one camera at a time."""
        if cached is not None:
            yield from zip(*cached)
            return
        for c2w in tqdm(c2ws, desc=f"render {name}", disable=not progress):
            out = model.render_image(c2w, focal, H, W, chunk)
            yield to_uint8(out["rgb"]), colorize_depth(out["depth"], out["acc"], lo, hi)

    paths = {"mp4": out_dir / f"{name}.mp4", "depth_mp4": out_dir / f"{name}_depth.mp4"}
    writers = {k: imageio.get_writer(p, fps=fps, macro_block_size=1, quality=8) for k, p in paths.items()}
    gif_frames: dict[str, list[np.ndarray]] = {"gif": [], "depth_gif": []}
    step = max(1, int(np.ceil(max(H, W) / gif_max_size)))
    keep: list[tuple[np.ndarray, np.ndarray]] = []
    try:
        for rgb, dep in frames():
            if cache is not None and cached is None:
                keep.append((rgb, dep))
            writers["mp4"].append_data(rgb)
            writers["depth_mp4"].append_data(dep)
            if gif:
                gif_frames["gif"].append(rgb[::step, ::step])
                gif_frames["depth_gif"].append(dep[::step, ::step])
    finally:
        for w in writers.values():
            w.close()
    if gif:
        for key, imgs in gif_frames.items():
            p = out_dir / (f"{name}.gif" if key == "gif" else f"{name}_depth.gif")
            imageio.mimsave(p, imgs, duration=1000 / fps, loop=0)
            paths[key] = p
    if keep:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.stem + ".tmp.npz")
        np.savez(tmp, rgb=np.stack([f[0] for f in keep]), depth=np.stack([f[1] for f in keep]))
        os.replace(tmp, cache)
    return {**{k: str(v) for k, v in paths.items()}, "frames": len(c2ws), "size": [H, W], "cached": cached is not None}

