import numpy as np
import pytest
import torch

from cs180utils.machinery.data import DataCorruptError, DataNotFoundError
from cs180utils.images import psnr
from cs180utils.nerf import rays as R
from cs180utils.nerf.model import NeRF, RenderSettings
from cs180utils.nerf.samplers import ray_aabb
from cs180utils.nerf.scene import AnalyticField, generate_scene, load_scene


@pytest.fixture(scope="module")
def small_scene(tmp_path_factory):
    path = tmp_path_factory.mktemp("scene") / "gen.npz"
    return generate_scene(path, size=48, n_train=60, n_val=3, n_test=4), path


def test_generated_scene_format_and_round_trip(small_scene):
    scene, path = small_scene
    assert scene.images.shape == (60, 48, 48, 3) and scene.c2ws.shape == (60, 4, 4)
    assert scene.images_val.shape == (3, 48, 48, 3) and scene.c2ws_test.shape == (4, 4, 4)
    assert 0.0 <= float(scene.images.min()) and float(scene.images.max()) <= 1.0
    fg = scene.depth > 0
    assert 0.1 < fg.float().mean() < 0.7  # an object on a black background
    assert float(scene.images[~fg].mean()) < 0.03  # background pixels are black (up to anti-aliased edges)
    again = load_scene(path)
    assert torch.allclose(again.images, scene.images, atol=1 / 255 + 1e-6)
    assert torch.allclose(again.c2ws, scene.c2ws) and abs(again.focal - scene.focal) < 1e-4
    assert torch.allclose(again.depth_val, scene.depth_val)


def test_first_val_views_keeps_training_data_and_the_first_views(small_scene):
    scene, _ = small_scene
    two = scene.first_val_views(2)
    assert two.images_val.shape[0] == two.c2ws_val.shape[0] == two.depth_val.shape[0] == 2
    assert torch.equal(two.c2ws_val, scene.c2ws_val[:2]) and torch.equal(two.images_val, scene.images_val[:2])
    assert two.images is scene.images and two.c2ws is scene.c2ws and two.focal == scene.focal
    assert scene.images_val.shape[0] == 3                         # the original is untouched
    with pytest.raises(ValueError, match="at least 1"):
        scene.first_val_views(0)


def test_ground_truth_depth_reprojects_onto_the_surface(small_scene):
    scene, _ = small_scene
    field = AnalyticField()
    o, d = R.image_rays(scene.focal, scene.c2ws_val[0], scene.H, scene.W)
    depth = scene.depth_val[0]
    m = depth > 0
    p = o[m] + depth[m, None] * d[m]
    sigma_in, _ = field(p + 0.01 * d[m], d[m])  # just behind the hit: inside
    sigma_out, _ = field(p - 0.01 * d[m], d[m])  # just in front: empty
    assert (sigma_in > 0).float().mean() > 0.97 and (sigma_out == 0).float().mean() > 0.97


def test_volume_rendering_the_analytic_field_matches_the_raycast(small_scene):
    scene, _ = small_scene
    model = NeRF(AnalyticField(sigma_in=2000.0), RenderSettings(scene.near, scene.far, n_samples=512))
    out = model.render_image(scene.c2ws_val[1], scene.focal, scene.H, scene.W, chunk=1024)
    assert psnr(out["rgb"], scene.images_val[1]) > 22  # supersampled edges vs one ray per pixel
    m = (scene.depth_val[1] > 0) & (out["acc"] > 0.99)
    assert m.float().mean() > 0.1
    assert (out["depth"][m] - scene.depth_val[1][m]).abs().median() < 4 / 512 + 1e-3


def test_raycast_of_a_box_is_the_ray_box_intersection():
    """The generated scene's boxes are hit where the one slab test (samplers.ray_aabb) says."""
    field = AnalyticField(shapes=(("box", (0.2, -0.1, 0.0), (0.5, 0.3, 0.4), (0.5, 0.5, 0.5), "grid"),))
    g = torch.Generator().manual_seed(0)
    o = torch.tensor([3.0, 2.0, 1.0]).expand(200, 3)
    d = torch.nn.functional.normalize(-o + 0.8 * torch.randn(200, 3, generator=g), dim=-1)
    _, depth = field.raycast(o, d)
    t_near, _, hit = ray_aabb(o, d, torch.tensor([[-0.3, -0.4, -0.4], [0.7, 0.2, 0.4]]))
    assert 20 < int(hit.sum()) < 180
    assert torch.equal(depth > 0, hit) and torch.allclose(depth[hit], t_near[hit])


def test_load_scene_errors(tmp_path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_scene(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    with pytest.raises(DataCorruptError, match="not a readable"):
        load_scene(bad)
    np.savez(tmp_path / "keys.npz", images_train=np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(DataCorruptError, match=r"NeRF scene: .* lacks the keys \['c2ws_train'"):
        load_scene(tmp_path / "keys.npz")
    np.savez(tmp_path / "shape.npz", images_train=np.zeros((2, 4, 4), np.uint8), c2ws_train=np.zeros((2, 4, 4)),
             images_val=np.zeros((1, 4, 4, 3), np.uint8), c2ws_val=np.zeros((1, 4, 4)),
             c2ws_test=np.zeros((1, 4, 4)), focal=5.0)
    with pytest.raises(DataCorruptError, match=r"\['images_train'\] has shape \(2, 4, 4\), expected \('N', 'H', 'W', 3\)"):
        load_scene(tmp_path / "shape.npz")
    np.savez(tmp_path / "cams.npz", images_train=np.zeros((2, 4, 4, 3), np.uint8), c2ws_train=np.zeros((3, 4, 4)),
             images_val=np.zeros((1, 4, 4, 3), np.uint8), c2ws_val=np.zeros((1, 4, 4)),
             c2ws_test=np.zeros((1, 4, 4)), focal=5.0)
    with pytest.raises(DataCorruptError, match=r"\['c2ws_train'\] has shape \(3, 4, 4\), expected \('N', 4, 4\) with {'N': 2}"):
        load_scene(tmp_path / "cams.npz")   # 3 cameras but 2 images
    np.savez(tmp_path / "float.npz", images_train=np.full((2, 4, 4, 3), 7.0), c2ws_train=np.zeros((2, 4, 4)),
             images_val=np.zeros((1, 4, 4, 3), np.uint8), c2ws_val=np.zeros((1, 4, 4)),
             c2ws_test=np.zeros((1, 4, 4)), focal=5.0)
    with pytest.raises(DataCorruptError, match=r"images_train is float with values up to 7.0; expected \[0, 1\]"):
        load_scene(tmp_path / "float.npz")


def test_real_lego_loads(real_data_dir):
    scene = load_scene(real_data_dir / "lego_200x200.npz")
    assert scene.images.shape == (100, 200, 200, 3) and abs(scene.focal - 277.78) < 0.01
    assert scene.images_test is None and scene.depth is None   # the course's file: no test images, no depth


def test_a_bare_scene_file_name_is_looked_up_in_the_data_folder(tmp_path, monkeypatch):
    from cs180utils.machinery.sources import default_scene
    folder = tmp_path / "data"
    folder.mkdir()
    generate_scene(folder / "my_scene.npz", size=16, n_train=4, n_val=1, n_test=1)
    monkeypatch.chdir(tmp_path)                              # not where the file is
    assert default_scene("my_scene.npz", data_dir=folder).W == 16
    with pytest.raises(Exception, match="does not exist"):
        default_scene("no_such_scene.npz", data_dir=folder)
