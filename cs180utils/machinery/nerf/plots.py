"""The 3-D view of a scene's cameras, rays and samples (notebook 02), as in the course's write-up: every camera
as a frustum showing its image, train / val / test cameras in their own colours, and the rays of ONE camera with
their samples, each coloured by the colour of the pixel its ray goes through.

    >>> fig = plt.figure(); ax = fig.add_subplot(projection="3d")
    >>> draw_scene_3d(ax, scene, camera=0, n_rays=64, n_samples=32)

Matplotlib's 3-D axes (no new dependency; a notebook turns the view with sliders). Shapes: R rays, S samples
per ray, N cameras, h x w pixels of a frustum's image.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from mpl_toolkits.mplot3d.art3d import Line3DCollection, Poly3DCollection

from cs180utils.nerf import rays as R
from cs180utils.nerf.samplers import sample_along_rays

SPLIT_COLOURS = {"train": "tab:blue", "val": "tab:green", "test": "tab:red"}  # frustum colour per split


def frustum_corners(K: torch.Tensor, c2w: torch.Tensor, H: int, W: int, depth: float) -> torch.Tensor:
    """The image's four corners, pixels (0, 0), (W, 0), (W, H), (0, H), placed at ``depth`` along the camera's z
    axis, in world coordinates: (..., 4, 3) for cameras ``c2w`` (..., 4, 4). Each lies on the ray through its
    corner pixel (:func:`cs180utils.nerf.rays.pixel_to_ray`)."""
    corners = torch.tensor([[0.0, 0.0], [W, 0.0], [W, H], [0.0, H]], dtype=c2w.dtype)  # (4, 2) as (u, v)
    x_c = R.pixel_to_camera(K.to(c2w.dtype), corners, depth)  # (4, 3) camera frame
    return R.transform(c2w[..., None, :, :], x_c)  # (..., 4, 3)


def image_plane_grid(K: torch.Tensor, c2w: torch.Tensor, H: int, W: int, depth: float, h: int, w: int) -> torch.Tensor:
    """Vertices (h + 1, w + 1, 3) of an h x w grid of quads covering one camera's image at ``depth``: quad
    (i, j) covers the pixels of row block i, column block j (so the image is drawn the right way up)."""
    v = torch.linspace(0.0, H, h + 1, dtype=c2w.dtype)
    u = torch.linspace(0.0, W, w + 1, dtype=c2w.dtype)
    vv, uu = torch.meshgrid(v, u, indexing="ij")
    x_c = R.pixel_to_camera(K.to(c2w.dtype), torch.stack((uu, vv), dim=-1), depth)  # (h+1, w+1, 3)
    return R.transform(c2w, x_c)


def camera_samples(scene, camera: int = 0, n_rays: int = 64, n_samples: int = 32, perturb: bool = True,
                   seed: int = 0) -> dict[str, torch.Tensor]:
    """Rays through ``n_rays`` distinct pixels of ONE training camera, drawn uniformly (seeded), and their
    ``n_samples`` samples between ``scene.near`` and ``scene.far`` (jittered as in training with ``perturb``).

    Returns ``pixels`` (R, 2) long (row, column), ``rays_o`` (R, 3), ``rays_d`` (R, 3), ``points`` (R, S, 3) and
    ``colours`` (R, 3): the image's colour at each ray's pixel."""
    B, H, W = len(scene.c2ws), scene.H, scene.W
    if not 0 <= camera < B:
        raise IndexError(f"camera {camera} does not exist: the scene has training cameras 0..{B - 1}")
    if not 1 <= n_rays <= H * W:
        raise ValueError(f"n_rays must be between 1 and the camera's {H * W} pixels, got {n_rays}")
    g = torch.Generator().manual_seed(seed)
    flat = torch.randperm(H * W, generator=g)[:n_rays]  # (R,) distinct pixels
    pixels = torch.stack(torch.unravel_index(flat, (H, W)), dim=-1)  # (R, 2) (row i, column j)
    uv = R.pixel_grid(H, W, scene.c2ws.dtype)[pixels[:, 0], pixels[:, 1]]  # (R, 2) their centres (u, v)
    rays_o, rays_d = R.pixel_to_ray(scene.K, scene.c2ws[camera], uv)
    points, _ = sample_along_rays(rays_o, rays_d, scene.near, scene.far, n_samples, perturb=perturb, generator=g)
    colours = scene.images[camera][pixels[:, 0], pixels[:, 1]]  # (R, 3)
    return {"pixels": pixels, "rays_o": rays_o, "rays_d": rays_d, "points": points, "colours": colours}


def _splits(scene):
    """(name, c2ws (N, 4, 4), images (N, H, W, 3) or None) for train / val / test."""
    return (("train", scene.c2ws, scene.images), ("val", scene.c2ws_val, scene.images_val),
            ("test", scene.c2ws_test, getattr(scene, "images_test", None)))


def draw_scene_3d(ax, scene, camera: int = 0, n_rays: int = 64, n_samples: int = 32, perturb: bool = True,
                  frustum_depth: float = 0.5, image_px: int = 16, elev: float = 25.0, azim: float = -60.0,
                  seed: int = 0):
    """Draw ``scene`` on matplotlib 3-D axes ``ax``: every camera's frustum (centre to the image corners at
    ``frustum_depth``) in its split's colour (:data:`SPLIT_COLOURS`), its image on the frustum's base at
    ``image_px`` x ``image_px`` (cameras that have images), and the rays of training camera ``camera`` (drawn from
    the camera to ``far``) with their samples between ``near`` and ``far`` (:func:`camera_samples`), all in their
    pixels' colours; that camera's frustum is drawn thicker, in black. Returns the samples' dict."""
    K, H, W = scene.K, scene.H, scene.W
    quads, quad_colours = [], []
    for name, c2ws, images in _splits(scene):
        if len(c2ws) == 0:
            continue
        corners = frustum_corners(K, c2ws, H, W, frustum_depth).numpy()  # (N, 4, 3)
        centres = c2ws[:, :3, 3].numpy()[:, None].repeat(4, axis=1)  # (N, 4, 3)
        sides = np.stack((centres, corners), axis=2)  # (N, 4, 2, 3) centre -> corner
        rims = np.stack((corners, np.roll(corners, -1, axis=1)), axis=2)  # (N, 4, 2, 3) corner -> next
        segments = np.concatenate((sides, rims), axis=1).reshape(-1, 2, 3)  # (8N, 2, 3)
        ax.add_collection3d(Line3DCollection(segments, colors=SPLIT_COLOURS[name], linewidths=0.6,
                                             label=f"{name} ({len(c2ws)})"))
        if images is not None and image_px > 0:
            small = F.interpolate(images.permute(0, 3, 1, 2), size=(image_px, image_px), mode="area")
            small = small.permute(0, 2, 3, 1).clamp(0, 1).numpy()  # (N, h, w, 3)
            for c2w, img in zip(c2ws, small):
                v = image_plane_grid(K, c2w, H, W, frustum_depth, image_px, image_px).numpy()  # (h+1, w+1, 3)
                q = np.stack((v[:-1, :-1], v[:-1, 1:], v[1:, 1:], v[1:, :-1]), axis=2)  # (h, w, 4, 3)
                quads.append(q.reshape(-1, 4, 3))
                quad_colours.append(img.reshape(-1, 3))
    if quads:
        ax.add_collection3d(Poly3DCollection(np.concatenate(quads), facecolors=np.concatenate(quad_colours),
                                             edgecolors="none", gid="images"))
    # the chosen camera: thicker frustum, its rays (near -> far) and samples in their pixels' colours
    c = scene.c2ws[camera]
    corners = frustum_corners(K, c, H, W, frustum_depth).numpy()
    o = c[:3, 3].numpy()
    chosen = [np.stack((o, p)) for p in corners] + [np.stack((corners[k], corners[(k + 1) % 4])) for k in range(4)]
    ax.add_collection3d(Line3DCollection(chosen, colors="k", linewidths=1.6, label=f"train camera {camera}"))
    s = camera_samples(scene, camera, n_rays, n_samples, perturb, seed)
    pts, col = s["points"].numpy(), s["colours"].clamp(0, 1).numpy()  # (R, S, 3), (R, 3)
    ends = (s["rays_o"] + scene.far * s["rays_d"]).numpy()  # (R, 3) each ray drawn from the camera to far
    ax.add_collection3d(Line3DCollection(np.stack((s["rays_o"].numpy(), ends), axis=1), colors=col, linewidths=0.5,
                                         alpha=0.6))
    ax.scatter(*pts.reshape(-1, 3).T, s=3, c=np.repeat(col, pts.shape[1], axis=0), depthshade=False,
               edgecolors="0.5", linewidths=0.2, label=f"{n_rays} rays x {n_samples} samples")
    lim = float(np.abs(np.concatenate((scene.c2ws[:, :3, 3].numpy(), pts.reshape(-1, 3)))).max()) * 1.05
    ax.set_xlim(-lim, lim), ax.set_ylim(-lim, lim), ax.set_zlim(-lim, lim)
    ax.set_box_aspect((1, 1, 1))
    ax.set_xlabel("x"), ax.set_ylabel("y"), ax.set_zlabel("z")
    ax.view_init(elev=elev, azim=azim)
    ax.legend(loc="upper left", fontsize=8)
    return s
