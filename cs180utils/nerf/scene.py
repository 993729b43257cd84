"""Multi-view scenes: the course's npz format, a generated stand-in with ground truth, and the object's box
(from the silhouettes, :mod:`cs180utils.nerf.hull`).

The npz format (lego_200x200.npz): ``images_train`` (B, H, W, 3) uint8, ``c2ws_train`` (B, 4, 4),
``images_val`` (V, H, W, 3), ``c2ws_val`` (V, 4, 4), ``c2ws_test`` (T, 4, 4), ``focal`` (scalar, pixels);
c2w in OpenCV convention (x right, y down, z forward), black background. Generated scenes add
``depth_train``/``depth_val``/``depth_test`` (ground-truth distance along each pixel's ray, 0 = background)
and ``images_test``.
"""
from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cs180utils.readers import DataCorruptError, DataNotFoundError, load_npz
from cs180utils.images import to_uint8
from cs180utils.nerf import hull
from cs180utils.nerf import rays as R
from cs180utils.nerf.fields import Field
from cs180utils.nerf.samplers import ray_aabb

MIN_TRAIN_VIEWS = 2   # one view fixes no 3-D point (nor the object's box, from where the cameras' axes meet)

# key -> shape of the npz format: equal letters must agree (N training, V validation, T test views)
REQUIRED = {"images_train": ("N", "H", "W", 3), "c2ws_train": ("N", 4, 4), "images_val": ("V", "H", "W", 3),
            "c2ws_val": ("V", 4, 4), "c2ws_test": ("T", 4, 4), "focal": ()}
OPTIONAL = {"images_test": ("T", "H", "W", 3), "depth_train": ("N", "H", "W"), "depth_val": ("V", "H", "W"),
            "depth_test": ("T", "H", "W"), "near": (), "far": ()}


@dataclass
class Scene:
    """A scene in memory: float images in [0, 1], cameras, focal, optional ground-truth depth."""
    images: torch.Tensor              # (B, H, W, 3) float32 training images in [0, 1]
    c2ws: torch.Tensor                # (B, 4, 4) training cameras
    focal: float                      # pixels
    images_val: torch.Tensor          # (V, H, W, 3)
    c2ws_val: torch.Tensor            # (V, 4, 4)
    c2ws_test: torch.Tensor           # (T, 4, 4) novel views (no images in the course file)
    images_test: torch.Tensor | None = None  # (T, H, W, 3) generated scenes only
    depth: torch.Tensor | None = None        # (B, H, W) ground-truth depth, 0 = background (generated only)
    depth_val: torch.Tensor | None = None    # (V, H, W)
    depth_test: torch.Tensor | None = None   # (T, H, W)
    near: float = 2.0                 # sampling range along rays (the one owner: training, rendering and the
    far: float = 6.0                  # plots take it from here; lego: cameras at radius 4)
    name: str = "scene"               # for titles and run folders
    _masks: torch.Tensor | None = field(default=None, repr=False)  # cache of silhouettes()
    _aabb: torch.Tensor | None = field(default=None, repr=False)   # cache of aabb()

    @property
    def H(self) -> int:
        return int(self.images.shape[1])

    @property
    def W(self) -> int:
        return int(self.images.shape[2])

    @property
    def K(self) -> torch.Tensor:
        return R.intrinsics(self.focal, self.H, self.W)

    def silhouettes(self) -> torch.Tensor:
        """Foreground masks (B, H, W) bool of the training images on the format's black background
        (:func:`cs180utils.nerf.hull.silhouettes`), computed once."""
        if self._masks is None:
            self._masks = hull.silhouettes(self.images)
        return self._masks

    def aabb(self) -> torch.Tensor:
        """The object's box (2, 3) = [min, max] from the silhouettes (:func:`cs180utils.nerf.hull.estimate_aabb`),
        computed once."""
        if self._aabb is None:
            self._aabb = hull.estimate_aabb(self.silhouettes(), self.c2ws, self.focal)
        return self._aabb

    def shape_at(self, size: int) -> tuple[int, int]:
        """``(H, W)`` of this scene with its longer side at ``size`` pixels (the aspect ratio kept)."""
        s = size / max(self.H, self.W)
        return max(1, round(self.H * s)), max(1, round(self.W * s))

    def resized(self, size: int) -> "Scene":
        """The same scene with its longer side at ``size`` pixels (``size`` x ``size`` for a square scene;
        area-averaged images, focal scaled, depth nearest). A non-square scene keeps its aspect ratio."""
        h, w = self.shape_at(size)
        if (h, w) == (self.H, self.W):
            return self
        s = w / self.W

        def im(x):
            if x is None:
                return None
            return F.interpolate(x.permute(0, 3, 1, 2), size=(h, w), mode="area").permute(0, 2, 3, 1)

        def dp(x):
            return None if x is None else F.interpolate(x[:, None], size=(h, w), mode="nearest")[:, 0]

        return replace(self, images=im(self.images), images_val=im(self.images_val), images_test=im(self.images_test),
                       depth=dp(self.depth), depth_val=dp(self.depth_val), depth_test=dp(self.depth_test),
                       focal=self.focal * s, name=f"{self.name}@{size}", _masks=None, _aabb=None)

    def first_val_views(self, n: int) -> "Scene":
        """The same scene with only its first ``n`` validation views (a cheaper final validation); training
        images, cameras and the cached silhouettes and box are unchanged."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        return replace(self, images_val=self.images_val[:n], c2ws_val=self.c2ws_val[:n],
                       depth_val=None if self.depth_val is None else self.depth_val[:n])


# ---- npz in / out ------------------------------------------------------------------------------------------

def _float_images(arr: np.ndarray | None, key: str, path) -> torch.Tensor | None:
    """uint8 images -> float in [0, 1]; float images must already be in [0, 1]."""
    if arr is None:
        return None
    if arr.dtype == np.uint8:
        return torch.from_numpy(arr.astype(np.float32) / 255.0)
    if arr.dtype.kind not in "fiu":
        raise DataCorruptError(f"{path}: {key} has dtype {arr.dtype}; expected uint8 (0-255) or float in [0, 1]")
    if arr.dtype.kind in "iu":   # 16-bit (or other integer) images: scaled by their type's range
        top = float(np.iinfo(arr.dtype).max) if arr.size and arr.max() > 255 else 255.0
        return torch.from_numpy(arr.astype(np.float32) / top)
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise DataCorruptError(f"{path}: {key} holds NaN or inf pixels; re-export the scene")
    if arr.size and arr.max() > 1.0 + 1e-3:
        raise DataCorruptError(f"{path}: {key} is float with values up to {arr.max():.1f}; expected [0, 1] or uint8")
    if arr.size and arr.min() < -1e-3:
        raise DataCorruptError(f"{path}: {key} is float with values down to {arr.min():.1f}; expected [0, 1] or uint8")
    return torch.from_numpy(arr)


def _check_cameras(c2ws: np.ndarray, key: str, path) -> None:
    """Refuse a camera-to-world matrix (N, 4, 4) that is not finite or not a rigid pose (rotation + translation,
    bottom row 0 0 0 1): it would send every ray of that view somewhere meaningless."""
    finite = np.isfinite(c2ws).all(axis=(1, 2))
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise DataCorruptError(f"{path}: {key}[{i}] (camera {i}) holds NaN or inf; fix or remove that view")
    rot = c2ws[:, :3, :3]
    off = np.abs(np.swapaxes(rot, 1, 2) @ rot - np.eye(3)).max(axis=(1, 2))
    row = np.abs(c2ws[:, 3] - np.array([0, 0, 0, 1.0])).max(axis=1)
    bad = np.flatnonzero((off > 1e-3) | (row > 1e-6))
    if bad.size:
        i = int(bad[0])
        raise DataCorruptError(f"{path}: {key}[{i}] (camera {i}) is not a camera-to-world pose (a rotation and a "
                               f"translation over the row 0 0 0 1); fix that view")


def load_scene(path: str | os.PathLike, near: float = Scene.near, far: float = Scene.far) -> Scene:
    """Read a scene npz (the course's format, see the module doc). Clear errors for a missing file, a file
    that is not an npz, missing keys and wrong shapes (:func:`cs180utils.readers.load_npz`), fewer than
    :data:`MIN_TRAIN_VIEWS` training images or no validation image. The sampling range
    is the file's ``near``/``far`` where it has them, else ``near``/``far`` (the course's 2 and 6 for lego)."""
    path = Path(path)
    if path.is_dir():
        raise DataNotFoundError(f"scene {path} is a folder, expected the scene's .npz file "
                                     f"(e.g. {path / 'lego_200x200.npz'})")
    if not path.is_file():
        raise DataNotFoundError(f"scene {path} does not exist (python -m cs180utils data fetch lego downloads the "
                                f"course's lego_200x200.npz) "
                                     f"(or make one: cs180utils.nerf.scene.generate_scene('my_scene.npz'))")
    arrays = load_npz(path, REQUIRED, what="NeRF scene", optional=OPTIONAL)
    focal = np.asarray(arrays["focal"], dtype=np.float64)
    if not (np.isfinite(focal.item()) and focal.item() > 0):
        raise DataCorruptError(f"{path}: focal must be one positive number (pixels), got {focal!r}")
    images = {k: _float_images(arrays.get(k), k, path) for k in ("images_train", "images_val", "images_test")}
    for key in ("c2ws_train", "c2ws_val", "c2ws_test"):
        _check_cameras(arrays[key], key, path)
    n_train, n_val = len(arrays["images_train"]), len(arrays["images_val"])
    if n_train < MIN_TRAIN_VIEWS or n_val < 1:
        raise DataCorruptError(f"{path}: a scene needs at least {MIN_TRAIN_VIEWS} training images (views from "
                               f"different cameras) and 1 validation image; it has {n_train} training and {n_val} "
                               f"validation images: add views (lego has 100 and 10) or pass another scene")
    for key in ("depth_train", "depth_val", "depth_test"):
        if key in arrays and not np.isfinite(arrays[key]).all():
            raise DataCorruptError(f"{path}: {key} holds NaN or inf; re-export the scene")
    near = float(arrays["near"]) if "near" in arrays else near
    far = float(arrays["far"]) if "far" in arrays else far
    if not (np.isfinite(near) and np.isfinite(far) and 0 <= near < far):
        raise DataCorruptError(f"{path}: near {near} and far {far} must be finite with 0 <= near < far")
    cams = lambda k: torch.from_numpy(arrays[k].astype(np.float32))  # noqa: E731
    depth = lambda k: torch.from_numpy(arrays[k].astype(np.float32)) if k in arrays else None  # noqa: E731
    scene = Scene(images=images["images_train"], c2ws=cams("c2ws_train"), focal=float(focal.item()),
                  images_val=images["images_val"], c2ws_val=cams("c2ws_val"), c2ws_test=cams("c2ws_test"),
                  images_test=images["images_test"],
                  depth=depth("depth_train"), depth_val=depth("depth_val"), depth_test=depth("depth_test"),
                  near=near, far=far, name=path.stem)
    return scene


def save_scene(scene: Scene, path: str | os.PathLike) -> Path:
    """Write ``scene`` in the npz format (uint8 images) so :func:`load_scene` reads it back."""
    arrays = dict(images_train=to_uint8(scene.images), c2ws_train=scene.c2ws.numpy(),
                  images_val=to_uint8(scene.images_val),
                  c2ws_val=scene.c2ws_val.numpy(), c2ws_test=scene.c2ws_test.numpy(), focal=np.float64(scene.focal),
                  near=np.float64(scene.near), far=np.float64(scene.far))
    if scene.images_test is not None:
        arrays["images_test"] = to_uint8(scene.images_test)
    for key, val in (("depth_train", scene.depth), ("depth_val", scene.depth_val), ("depth_test", scene.depth_test)):
        if val is not None:
            arrays[key] = val.numpy()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)
    return path


# ---- cameras -----------------------------------------------------------------------------------------------

def look_at(eye: torch.Tensor, target: torch.Tensor | None = None, up=(0.0, 0.0, 1.0)) -> torch.Tensor:
    """OpenCV-convention c2w (..., 4, 4) for cameras at ``eye`` (..., 3) looking at ``target`` (world z up)."""
    target = torch.zeros_like(eye) if target is None else target
    z = F.normalize(target - eye, dim=-1)  # forward
    x = F.normalize(torch.cross(z, torch.tensor(up, dtype=eye.dtype).expand_as(z), dim=-1), dim=-1)  # right
    y = torch.cross(z, x, dim=-1)  # down
    c2w = torch.zeros(eye.shape[:-1] + (4, 4), dtype=eye.dtype)
    c2w[..., :3, 0], c2w[..., :3, 1], c2w[..., :3, 2], c2w[..., :3, 3] = x, y, z, eye
    c2w[..., 3, 3] = 1.0
    return c2w


def sphere_cameras(n: int, radius: float = 4.03, min_elev_deg: float = 8.0, max_elev_deg: float = 82.0,
                   seed: int = 0) -> torch.Tensor:
    """``n`` cameras (n, 4, 4) spread over the upper hemisphere (Fibonacci spiral, jittered), looking at 0."""
    g = torch.Generator().manual_seed(seed)
    i = torch.arange(n, dtype=torch.float64) + 0.5
    lo, hi = math.sin(math.radians(min_elev_deg)), math.sin(math.radians(max_elev_deg))
    z = lo + (hi - lo) * (i / n + 0.3 * (torch.rand(n, generator=g, dtype=torch.float64) - 0.5) / n)
    phi = math.pi * (3.0 - math.sqrt(5.0)) * i + 2 * math.pi * torch.rand(1, generator=g, dtype=torch.float64)
    r = torch.sqrt(1 - z ** 2)
    eye = radius * torch.stack((r * torch.cos(phi), r * torch.sin(phi), z), dim=-1)
    return look_at(eye.float())


def orbit_cameras(n: int, radius: float = 4.03, elev_deg: float = 30.0) -> torch.Tensor:
    """``n`` cameras (n, 4, 4) on a circle at elevation ``elev_deg`` (the novel-view video's path)."""
    phi = torch.arange(n, dtype=torch.float32) / n * 2 * math.pi
    e = math.radians(elev_deg)
    eye = radius * torch.stack((math.cos(e) * torch.cos(phi), math.cos(e) * torch.sin(phi),
                                torch.full_like(phi, math.sin(e))), dim=-1)
    return look_at(eye)


# ---- the generated scene: an analytic density / colour field --------------------------------------------

# (kind, centre, size, base colour, texture): spheres have size = radius, boxes size = half extents.
SHAPES = (
    ("box", (0.0, 0.0, -0.45), (0.95, 0.95, 0.08), (0.85, 0.85, 0.80), "checker"),  # platform
    ("sphere", (-0.35, -0.30, 0.05), 0.42, (0.90, 0.20, 0.15), "stripes"),          # red striped ball
    ("box", (0.45, 0.30, -0.07), (0.25, 0.25, 0.30), (0.20, 0.75, 0.30), "grid"),    # green crate
    ("sphere", (0.45, -0.45, -0.20), 0.17, (0.95, 0.80, 0.10), "dots"),             # yellow dotted ball
    ("box", (-0.45, 0.50, 0.25), (0.11, 0.11, 0.62), (0.45, 0.30, 0.85), "rings"),   # purple pillar
)
LIGHT = (0.4, -0.5, 0.77)


def _texture(kind: str, p: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """Colour (N, 3) of a textured surface at points p (N, 3)."""
    x, y, z = p.unbind(-1)
    if kind == "checker":
        m = ((torch.floor(x * 5) + torch.floor(y * 5)) % 2)[:, None]
        return base * (0.35 + 0.65 * m) + (1 - m) * torch.tensor([0.05, 0.10, 0.35])
    if kind == "stripes":
        m = (torch.sin(z * 22 + 3 * torch.atan2(y + 0.30, x + 0.35)) > 0).float()[:, None]
        return base * m + (1 - m) * torch.tensor([0.95, 0.95, 0.90])
    if kind == "grid":
        g = torch.minimum(torch.minimum((x * 8).frac().sub(0.5).abs(), (y * 8).frac().sub(0.5).abs()),
                          (z * 8).frac().sub(0.5).abs())
        m = (g > 0.08).float()[:, None]
        return base * m + (1 - m) * torch.tensor([0.05, 0.25, 0.05])
    if kind == "dots":
        m = ((torch.sin(x * 40) * torch.sin(y * 40) * torch.sin(z * 40)) > 0.2).float()[:, None]
        return base * (1 - 0.6 * m)
    if kind == "rings":
        m = (torch.sin(z * 30) > 0.3).float()[:, None]
        return base * (1 - m) + m * torch.tensor([0.95, 0.60, 0.20])
    raise ValueError(kind)


def _shade(colour: torch.Tensor, normal: torch.Tensor) -> torch.Tensor:
    light = F.normalize(torch.tensor(LIGHT), dim=0)
    return (colour * (0.3 + 0.7 * (normal @ light).clamp_min(0.0))[:, None]).clamp(0, 1)


class AnalyticField(Field):
    """The generated scene as a NeRF field (same contract as the learned ones): density ``sigma_in``
    inside any shape, 0 outside; colour = the shape's shaded texture. Exact surfaces: :meth:`raycast`."""

    def __init__(self, shapes=SHAPES, sigma_in: float = 400.0):
        super().__init__()
        self.shapes, self.sigma_in = shapes, sigma_in

    def _normal(self, kind, c, s, p):
        if kind == "sphere":
            return F.normalize(p - c, dim=-1)
        q = (p - c) / s  # (N, 3) in [-1, 1] inside
        axis = q.abs().argmax(dim=-1)
        return F.one_hot(axis, 3).float() * torch.sign(q.gather(-1, axis[:, None]))

    def forward(self, points: torch.Tensor, dirs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sigma = torch.zeros(points.shape[0])
        rgb = torch.zeros(points.shape[0], 3)
        taken = torch.zeros(points.shape[0], dtype=torch.bool)
        for kind, c, s, base, tex in self.shapes:
            c, s, base = torch.tensor(c), torch.tensor(s), torch.tensor(base)
            inside = ((points - c).norm(dim=-1) <= s) if kind == "sphere" else ((points - c).abs() <= s).all(-1)
            new = inside & ~taken
            if new.any():
                p = points[new]
                rgb[new] = _shade(_texture(tex, p, base), self._normal(kind, c, s, p))
                sigma[new] = self.sigma_in
            taken |= inside
        return sigma, rgb

    def raycast(self, rays_o: torch.Tensor, rays_d: torch.Tensor, near: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact first hit of rays (R, 3): colour (R, 3) (black on a miss) and depth t (R,) (0 on a miss)."""
        best = torch.full(rays_o.shape[:1], float("inf"))
        which = torch.full(rays_o.shape[:1], -1, dtype=torch.long)
        for k, (kind, c, s, _, _) in enumerate(self.shapes):
            c = torch.tensor(c)
            if kind == "sphere":
                oc = rays_o - c
                b = (oc * rays_d).sum(-1)
                disc = b ** 2 - ((oc ** 2).sum(-1) - s ** 2)
                t = -b - torch.sqrt(disc.clamp_min(0.0))
                t = torch.where((disc > 0) & (t > near), t, torch.full_like(t, float("inf")))
            else:
                s = torch.tensor(s)
                t0, _, hit = ray_aabb(rays_o, rays_d, torch.stack((c - s, c + s)), near=-float("inf"))
                t = torch.where(hit & (t0 > near), t0, torch.full_like(t0, float("inf")))
            closer = t < best
            best, which = torch.where(closer, t, best), torch.where(closer, torch.full_like(which, k), which)
        rgb = torch.zeros_like(rays_o)
        for k, (kind, c, s, base, tex) in enumerate(self.shapes):
            m = which == k
            if m.any():
                c, s = torch.tensor(c), torch.tensor(s)
                p = rays_o[m] + best[m, None] * rays_d[m]
                rgb[m] = _shade(_texture(tex, p, torch.tensor(base)), self._normal(kind, c, s, p))
        depth = torch.where(which >= 0, best, torch.zeros_like(best))
        return rgb, depth


def render_analytic(field: AnalyticField, c2ws: torch.Tensor, focal: float, H: int, W: int,
                    supersample: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Ray-cast images (N, H, W, 3) (``supersample``^2 rays per pixel, box-averaged like lego's) and the
    depth (N, H, W) along each pixel-centre ray (0 = background)."""
    images, depths = [], []
    ss = supersample
    K_hi = R.intrinsics(focal * ss, H * ss, W * ss)
    K = R.intrinsics(focal, H, W)
    for c2w in c2ws:
        o, d = R.pixel_to_ray(K_hi, c2w, R.pixel_grid(H * ss, W * ss))
        rgb, _ = field.raycast(o.reshape(-1, 3), d.reshape(-1, 3))
        images.append(rgb.reshape(H, ss, W, ss, 3).mean(dim=(1, 3)))
        o, d = R.pixel_to_ray(K, c2w, R.pixel_grid(H, W))
        depths.append(field.raycast(o.reshape(-1, 3), d.reshape(-1, 3))[1].reshape(H, W))
    return torch.stack(images), torch.stack(depths)


def generate_scene(path: str | os.PathLike | None = None, size: int = 200, n_train: int = 100, n_val: int = 10,
                   n_test: int = 60, radius: float = 4.03, focal: float | None = None, seed: int = 0) -> Scene:
    """A lego-like scene rendered by the project itself (5 textured, shaded shapes on a black background,
    cameras on the upper hemisphere at ``radius`` looking at the origin, lego's field of view), with
    ground-truth depth and test images. Written to ``path`` (npz, the course's format) when given."""
    focal = focal if focal is not None else 277.7778 * size / 200
    field_ = AnalyticField()
    c2ws = sphere_cameras(n_train, radius, seed=seed)
    c2ws_val = sphere_cameras(n_val, radius, seed=seed + 1)
    c2ws_test = orbit_cameras(n_test, radius, elev_deg=30.0)
    images, depth = render_analytic(field_, c2ws, focal, size, size)
    images_val, depth_val = render_analytic(field_, c2ws_val, focal, size, size)
    images_test, depth_test = render_analytic(field_, c2ws_test, focal, size, size)
    scene = Scene(images=images, c2ws=c2ws, focal=focal, images_val=images_val, c2ws_val=c2ws_val,
                  c2ws_test=c2ws_test, images_test=images_test, depth=depth, depth_val=depth_val,
                  depth_test=depth_test, name="generated")
    if path is not None:
        save_scene(scene, path)
        scene.name = Path(path).stem
    return scene
