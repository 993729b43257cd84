"""The one visual hull: silhouettes, carving, the object's box; computed once per scene and shared by the box
the cpu profile samples in and the fast field's occupancy grid."""
import pytest
import torch

from cs180utils.nerf import hull
from cs180utils.nerf import rays as R
from cs180utils.nerf.hull import carve, estimate_aabb, look_center, silhouettes, visual_hull
from cs180utils.nerf.scene import generate_scene, load_scene, look_at

RADIUS = 0.5  # the ball of the ball_views fixture (conftest.py)


@pytest.fixture(scope="module")
def small_scene():
    return generate_scene(size=48, n_train=60, n_val=3, n_test=4)


def test_silhouettes_threshold_and_dilation():
    img = torch.zeros(1, 7, 7, 3, dtype=torch.uint8)
    img[0, 3, 3] = torch.tensor([0, 40, 0], dtype=torch.uint8)  # 40/255 = 0.16 > 0.02
    img[0, 0, 0] = torch.tensor([2, 2, 2], dtype=torch.uint8)  # 0.008: background noise
    assert silhouettes(img, dilate_px=0)[0].nonzero().tolist() == [[3, 3]]
    grown = silhouettes(img, dilate_px=1)[0]
    assert int(grown.sum()) == 9 and bool(grown[2:5, 2:5].all())
    with pytest.raises(ValueError, match="B, H, W, 3"):
        silhouettes(torch.zeros(7, 7, 3))


def test_carve_keeps_the_ball_and_removes_the_rest(ball_views):
    imgs, c2ws, focal = ball_views()
    masks = silhouettes(imgs, dilate_px=0)
    inside = torch.tensor([[0.0, 0.0, 0.0], [0.3, -0.2, 0.2], [0.0, 0.0, -0.45]])
    outside = torch.tensor([[0.9, 0.0, 0.0], [0.0, 0.7, 0.3], [0.5, 0.5, 0.5]])
    keep = carve(torch.cat([inside, outside]), masks, c2ws, focal)
    assert keep.tolist() == [True, True, True, False, False, False]
    # a point no camera sees is carved too (it can never explain a training pixel)
    assert not carve(torch.tensor([[0.0, 0.0, 30.0]]), masks, c2ws, focal).item()


def test_visual_hull_of_the_ball_by_hand(ball_views):
    """On a 4^3 grid over [-1, 1]^3 (cells of 0.5) the ball of radius 0.5 covers exactly the 8 central cells'
    centres (at distance 0.43 from the origin); every other centre is at 0.83 or more."""
    imgs, c2ws, focal = ball_views()
    occ = visual_hull(silhouettes(imgs, dilate_px=0), c2ws, focal, torch.tensor([[-1.0] * 3, [1.0] * 3]), 4)
    assert occ.shape == (4, 4, 4) and occ.nonzero().tolist() == [[i, j, k] for i in (1, 2) for j in (1, 2)
                                                                  for k in (1, 2)]


def test_estimated_aabb_of_the_ball(ball_views):
    imgs, c2ws, focal = ball_views()
    box = estimate_aabb(silhouettes(imgs), c2ws, focal)
    assert (box[0] < -RADIUS).all() and (box[1] > RADIUS).all()     # holds the ball
    assert (box[0] > -0.8).all() and (box[1] < 0.8).all()           # and hugs it (cells of 0.05, 5% margin)


def test_estimated_aabb_contains_the_object_and_is_tight(small_scene):
    scene = small_scene
    box = scene.aabb()
    # all foreground surface points of the val views are inside the box
    for k in range(len(scene.c2ws_val)):
        o, d = R.image_rays(scene.focal, scene.c2ws_val[k], scene.H, scene.W)
        m = scene.depth_val[k] > 0
        p = o[m] + scene.depth_val[k][m, None] * d[m]
        assert ((p >= box[0] - 1e-3) & (p <= box[1] + 1e-3)).all()
    size = box[1] - box[0]
    assert (size[:2] < 2.6).all(), f"box {box} is loose: the objects span about 1.9 x 1.9"


def test_look_center_of_cameras_looking_at_a_point():
    target = torch.tensor([0.3, -0.2, 0.5])
    eyes = torch.tensor([[4.0, 0, 1], [0, 4.0, 2], [-3, -3, 1], [0.5, -4, 3]])
    c2ws = look_at(eyes, target.expand(4, 3))
    assert torch.allclose(look_center(c2ws), target, atol=1e-4)


def test_one_hull_per_build_shared_by_the_box_and_the_occupancy_grid(small_scene, monkeypatch):
    """Building the fast model computes the silhouettes once and the box once (kept on the scene, the same box
    the vanilla model samples in), then one fine hull in that box for the occupancy grid."""
    from cs180utils.machinery.nerf import experiment

    calls = {"silhouettes": 0, "visual_hull": 0}
    for name in calls:
        original = getattr(hull, name)

        def counted(*a, _original=original, _name=name, **k):
            calls[_name] += 1
            return _original(*a, **k)
        monkeypatch.setattr(hull, name, counted)
    scene = generate_scene(size=24, n_train=12, n_val=1, n_test=1)
    model = experiment.build_model(experiment.config("fast", "smoke"), scene)
    assert calls == {"silhouettes": 1, "visual_hull": 2}   # the box's coarse hull and the grid's fine one
    assert torch.equal(model.field.occupancy.aabb, scene.aabb()) and torch.equal(model.settings.aabb, scene.aabb())
    experiment.build_model(experiment.config("vanilla", "smoke"), scene)
    assert calls == {"silhouettes": 1, "visual_hull": 2}   # the vanilla box: the same, already there
    assert scene.resized(12).aabb() is not scene.aabb()    # another image size: its own silhouettes


def test_real_lego_box_is_plausible(real_data_dir):
    scene = load_scene(real_data_dir / "lego_200x200.npz")
    box = estimate_aabb(scene.silhouettes(), scene.c2ws, scene.focal, resolution=48)
    assert (box[0] < torch.tensor([-0.5, -1.0, -0.3])).all() and (box[1] > torch.tensor([0.5, 1.0, 0.9])).all()
    assert ((box[1] - box[0]) < 3.2).all()
