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


class VideoWriteError(OSError):
    """A video file could not be written (no space, no permission, ffmpeg stopped); its partial files are gone."""


def _reason(exc: BaseException) -> str:
    """Why a write failed, in a few words: the OS's reason, else the first line of the message (imageio-ffmpeg's
    adds the whole ffmpeg command), with the likely cause when ffmpeg stopped reading frames."""
    text = getattr(exc, "strerror", None) or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, BrokenPipeError) or "Broken pipe" in text:
        text += ": ffmpeg stopped, is the disk full?"
    return text


def _check_video(path: Path, frames: int) -> None:
    """Refuse a video that ffmpeg finished without an error it reports (imageio-ffmpeg does not read its exit
    status) but that does not hold ``frames`` frames: cut short by a full disk or a file size limit."""
    import imageio_ffmpeg  # noqa: PLC0415  (imageio's ffmpeg plugin comes with it)
    try:
        found = imageio_ffmpeg.count_frames_and_secs(str(path))[0]
    except (RuntimeError, OSError) as exc:
        raise RuntimeError("the file ffmpeg wrote does not read back: cut short, is the disk full?") from None
    if found != frames:
        raise RuntimeError(f"the file ffmpeg wrote holds {found} of its {frames} frames: cut short, is the disk full?")


def render_video(model: NeRF, c2ws: torch.Tensor, focal: float, size: int | tuple[int, int],
                 out_dir: str | os.PathLike, name: str = "novel_views", fps: int = 15, chunk: int = 4096,
                 gif: bool = True, gif_max_size: int = 256, progress: bool = True,
                 cache_dir: str | os.PathLike | None = None) -> dict:
    """Render every camera of ``c2ws`` (T, 4, 4) at ``size`` (H = W, or (H, W)); ``focal`` is at that size.

    Writes ``{name}.mp4`` (colour), ``{name}_depth.mp4`` and, with ``gif``, ``{name}.gif`` and
    ``{name}_depth.gif`` (downscaled to at most ``gif_max_size``). Returns the paths, the frame count and
    whether the frames came from the cache (``cached``). Each file is written under a ``.partial`` name and
    renamed once complete (an mp4 once it reads back with all its frames); a failed write (a full disk)
    removes the partial files, keeps any earlier video of the same name and raises :class:`VideoWriteError`,
    one line naming the file.

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
    if gif:
        paths.update(gif=out_dir / f"{name}.gif", depth_gif=out_dir / f"{name}_depth.gif")
    # each file is written under a partial name and renamed when complete: a failed write (a full disk: ffmpeg
    # stops, "Broken pipe") removes what it wrote and leaves any earlier video of that name as it was
    partial = {k: p.with_name(f"{p.stem}.partial{p.suffix}") for k, p in paths.items()}
    gif_frames: dict[str, list[np.ndarray]] = {"gif": [], "depth_gif": []}
    step = max(1, int(np.ceil(max(H, W) / gif_max_size)))
    keep: list[tuple[np.ndarray, np.ndarray]] = []

    def write(key: str, what, *args, **kwargs):
        """``what(*args, **kwargs)``, which writes ``key``'s file: a failure is a :class:`VideoWriteError` naming
        the file (a rendering error stays what it is)."""
        try:
            return what(*args, **kwargs)
        except (OSError, RuntimeError) as exc:
            raise VideoWriteError(f"could not write the video {paths[key]} ({_reason(exc)}); its partial files were "
                                  f"removed (an earlier video of that name is kept): free some space or pass another "
                                  f"--out, then run the same command again") from exc

    writers = {}
    try:
        for k in ("mp4", "depth_mp4"):
            writers[k] = write(k, imageio.get_writer, partial[k], fps=fps, macro_block_size=1, quality=8)
        n = 0
        for rgb, dep in frames():
            if cache is not None and cached is None:
                keep.append((rgb, dep))
            write("mp4", writers["mp4"].append_data, rgb)
            write("depth_mp4", writers["depth_mp4"].append_data, dep)
            n += 1
            if gif:
                gif_frames["gif"].append(rgb[::step, ::step])
                gif_frames["depth_gif"].append(dep[::step, ::step])
        for k in ("mp4", "depth_mp4"):
            write(k, writers.pop(k).close)
            write(k, _check_video, partial[k], n)
        if gif:
            for k in ("gif", "depth_gif"):
                write(k, imageio.mimsave, partial[k], gif_frames[k], duration=1000 / fps, loop=0)
        for k in paths:
            write(k, os.replace, partial[k], paths[k])
    except BaseException:
        for w in writers.values():   # ffmpeg stopped; its error is the one raised
            try:
                w.close()
            except Exception:  # noqa: BLE001
                pass
        for p in partial.values():
            p.unlink(missing_ok=True)
        raise
    if keep:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.stem + ".tmp.npz")
        try:
            np.savez(tmp, rgb=np.stack([f[0] for f in keep]), depth=np.stack([f[1] for f in keep]))
            os.replace(tmp, cache)
        finally:
            tmp.unlink(missing_ok=True)
    return {**{k: str(v) for k, v in paths.items()}, "frames": len(c2ws), "size": [H, W], "cached": cached is not None}

