"""The 3-D view of cameras, rays and samples (cs180utils/machinery/nerf/plots.py)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Line3DCollection, Poly3DCollection  # noqa: E402

from cs180utils.machinery.nerf import plots  # noqa: E402
from cs180utils.nerf import rays as R  # noqa: E402
from cs180utils.nerf.scene import Scene, look_at, sphere_cameras  # noqa: E402


def _scene(n_train=5, n_val=2, n_test=3, size=8, test_images=False):
    """A small scene: distinct training images (image b has red = b / 10), cameras on a sphere of radius 4."""
    c2ws = sphere_cameras(n_train + n_val + n_test, 4.0, seed=1)
    images = torch.rand(n_train, size, size, 3, generator=torch.Generator().manual_seed(0))
    images[..., 0] = torch.arange(n_train, dtype=torch.float32)[:, None, None] / 10
    return Scene(images=images, c2ws=c2ws[:n_train], focal=10.0, images_val=torch.rand(n_val, size, size, 3),
                 c2ws_val=c2ws[n_train:n_train + n_val], c2ws_test=c2ws[n_train + n_val:],
                 images_test=torch.rand(n_test, size, size, 3) if test_images else None)


def test_frustum_corners_by_hand():
    # camera at the origin looking down +z (identity c2w), focal 2, a 4 x 2 image: corner (0, 0) is
    # K^-1 (0, 0, 1) = (-W/2f, -H/2f, 1) = (-1, -0.5, 1) at depth 1, and twice that at depth 2
    K = R.intrinsics(2.0, H=2, W=4)
    c = plots.frustum_corners(K, torch.eye(4), H=2, W=4, depth=1.0)
    assert torch.allclose(c, torch.tensor([[-1.0, -0.5, 1.0], [1.0, -0.5, 1.0], [1.0, 0.5, 1.0], [-1.0, 0.5, 1.0]]))
    moved = torch.eye(4)
    moved[:3, 3] = torch.tensor([1.0, 2.0, 3.0])
    assert torch.allclose(plots.frustum_corners(K, moved, 2, 4, 2.0), 2 * c + torch.tensor([1.0, 2.0, 3.0]))


def test_frustum_corners_are_the_corner_rays_at_the_depth():
    c2ws = look_at(torch.tensor([[3.0, 1.0, 2.0], [0.5, -4.0, 1.0]]))  # (2, 4, 4)
    H, W, depth = 30, 40, 0.7
    K = R.intrinsics(25.0, H, W)
    corners = plots.frustum_corners(K, c2ws, H, W, depth)  # (2, 4, 3)
    assert corners.shape == (2, 4, 3)
    uv = torch.tensor([[0.0, 0.0], [W, 0.0], [W, H], [0.0, H]])
    o, d = R.pixel_to_ray(K, c2ws[:, None], uv)  # (2, 4, 3) the rays through the corner pixels
    z_axis = c2ws[:, None, :3, 2]  # (2, 1, 3)
    t = depth / (d * z_axis).sum(-1, keepdim=True)  # distance along the ray where the camera depth is `depth`
    assert torch.allclose(corners, o + t * d, atol=1e-5)


def test_camera_samples_come_from_one_camera_with_their_pixels_colours():
    scene = _scene()
    s = plots.camera_samples(scene, camera=3, n_rays=20, n_samples=7, seed=1)
    assert s["points"].shape == (20, 7, 3) and s["colours"].shape == (20, 3)
    assert torch.allclose(s["rays_o"], scene.c2ws[3, :3, 3].expand(20, 3))  # all from camera 3
    assert torch.allclose(s["colours"][:, 0], torch.full((20,), 0.3))       # image 3's red channel
    i, j = s["pixels"].T
    assert torch.equal(s["colours"], scene.images[3, i, j])
    assert len({(int(a), int(b)) for a, b in s["pixels"]}) == 20             # distinct pixels
    t = ((s["points"] - s["rays_o"][:, None]) * s["rays_d"][:, None]).sum(-1)  # (R, S) distance along the ray
    assert (t >= scene.near - 1e-4).all() and (t <= scene.far + 1e-4).all()
    # each ray goes through its pixel's centre: projecting a sample lands in pixel (i, j)
    uv, _ = R.world_to_pixel(scene.K, scene.c2ws[3], s["points"][:, 3])
    assert torch.allclose(uv, s["pixels"].flip(-1).float() + 0.5, atol=1e-3)
    again = plots.camera_samples(scene, camera=3, n_rays=20, n_samples=7, seed=1)
    assert torch.equal(again["points"], s["points"])                        # seeded


def test_camera_samples_reject_bad_requests():
    scene = _scene(size=4)
    with pytest.raises(IndexError, match="training cameras 0..4"):
        plots.camera_samples(scene, camera=5)
    with pytest.raises(ValueError, match="16 pixels"):
        plots.camera_samples(scene, n_rays=17)


@pytest.mark.parametrize("test_images", [False, True])
def test_draw_scene_3d_colours_splits_and_counts_samples(test_images):
    scene = _scene(test_images=test_images)
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    s = plots.draw_scene_3d(ax, scene, camera=1, n_rays=6, n_samples=5, image_px=4)
    samples = [c for c in ax.collections if c.get_label() == "6 rays x 5 samples"]
    assert len(samples) == 1 and len(samples[0].get_offsets()) == 6 * 5
    assert torch.allclose(torch.as_tensor(samples[0].get_facecolors()[::5, :3], dtype=torch.float32),
                          s["colours"], atol=1e-6)  # every ray's samples in its pixel's colour
    fig.canvas.draw()  # 3-D collections hold their segments once projected
    lines = {c.get_label(): c for c in ax.collections if isinstance(c, Line3DCollection)}
    for name, n in (("train", 5), ("val", 2), ("test", 3)):
        frusta = lines[f"{name} ({n})"]
        assert len(frusta.get_segments()) == 8 * n  # 4 sides + 4 rim edges per camera
        assert mcolors.same_color(frusta.get_color()[0], plots.SPLIT_COLOURS[name])
    assert len(lines["train camera 1"].get_segments()) == 8
    images = [c for c in ax.collections if isinstance(c, Poly3DCollection) and c.get_gid() == "images"]
    n_with_images = 5 + 2 + (3 if test_images else 0)
    assert len(images) == 1 and len(images[0].get_facecolors()) == n_with_images * 4 * 4
    plt.close(fig)
