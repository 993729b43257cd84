import math

import pytest
import torch

from cs180utils.nerf.fields import Field, NerfField
from cs180utils.nerf.model import NeRF, RenderSettings
from cs180utils.nerf.scene import AnalyticField, look_at


def test_field_contract_shapes_and_ranges():
    torch.manual_seed(0)
    f = NerfField(width=32, depth=4, skip=2)
    pts, dirs = torch.randn(100, 3), torch.nn.functional.normalize(torch.randn(100, 3), dim=-1)
    sigma, rgb = f(pts, dirs)
    assert sigma.shape == (100,) and rgb.shape == (100, 3)
    assert (sigma >= 0).all() and (rgb >= 0).all() and (rgb <= 1).all()
    # course figure: PE(x) 63 into the first layer and again at the skip, PE(d) 27 into the colour branch
    assert f.trunk[0].in_features == 63 and f.trunk[2].in_features == 32 + 63
    assert f.rgb_head[0].in_features == 32 + 27
    with pytest.raises(ValueError, match="skip"):
        NerfField(depth=4, skip=4)


def test_colour_depends_on_view_direction_but_density_does_not():
    torch.manual_seed(0)
    f = NerfField(width=32, depth=4, skip=2)
    p = torch.randn(10, 3)
    d1 = torch.nn.functional.normalize(torch.randn(10, 3), dim=-1)
    s1, c1 = f(p, d1)
    s2, c2 = f(p, -d1)
    assert torch.equal(s1, s2) and not torch.allclose(c1, c2)


@pytest.mark.parametrize("aabb", [None, torch.tensor([[-1.0, -1.0, -0.6], [1.0, 1.0, 1.0]])])
def test_chunked_render_equals_unchunked(aabb):
    torch.manual_seed(0)
    model = NeRF(NerfField(width=32, depth=4, skip=2), RenderSettings(2.0, 6.0, n_samples=16, aabb=aabb))
    c2w = look_at(torch.tensor([3.0, 2.0, 1.5]))
    a = model.render_image(c2w, 30.0, 20, 24, chunk=37)
    b = model.render_image(c2w, 30.0, 20, 24, chunk=100_000)
    for k in ("rgb", "depth", "acc"):
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    assert a["rgb"].shape == (20, 24, 3) and a["depth"].shape == (20, 24)


def test_box_sampling_and_hierarchical_render_the_analytic_scene():
    """Samples only inside the object's box, or 32 coarse + 64 fine samples, see the same surfaces as
    dense sampling: the depth of the analytic scene's surfaces to within a fraction of a coarse step."""
    c2w = look_at(torch.tensor([3.0, -2.5, 1.8]))
    dense = NeRF(AnalyticField(), RenderSettings(2.0, 6.0, n_samples=1024)).render_image(c2w, 40.0, 24, 24)
    box = torch.tensor([[-1.0, -1.0, -0.6], [1.0, 1.0, 0.9]])
    boxed = NeRF(AnalyticField(), RenderSettings(2.0, 6.0, n_samples=128, aabb=box)).render_image(c2w, 40.0, 24, 24)
    fine = NeRF(AnalyticField(), RenderSettings(2.0, 6.0, n_samples=32, n_fine=64), fine=AnalyticField()).render_image(c2w, 40.0, 24, 24)
    m = dense["acc"] > 0.99
    assert m.float().mean() > 0.2
    assert (boxed["depth"][m] - dense["depth"][m]).abs().median() < 0.02
    assert (fine["depth"][m] - dense["depth"][m]).abs().median() < 4 / 32 / 4
    assert (boxed["acc"][~m] < 0.5).float().mean() > 0.9


def test_hierarchical_needs_a_fine_field():
    with pytest.raises(ValueError, match="fine field"):
        NeRF(NerfField(width=16, depth=2, skip=1), RenderSettings(2.0, 6.0, n_fine=8))


class _Counting(Field):
    """A field that counts the points it is asked about."""

    def __init__(self, field):
        super().__init__()
        self.field, self.points = field, 0

    def forward(self, pts, dirs):
        self.points += pts.shape[0]
        return self.field(pts, dirs)


def test_hierarchical_evaluates_n_coarse_then_n_plus_n_fine_points_per_ray():
    """The budget notebook 03's comparison is built on: N coarse + N fine costs 3N evaluations per ray
    (the fine field sees the coarse samples again), the same as 3N uniform samples."""
    coarse, fine = _Counting(AnalyticField()), _Counting(AnalyticField())
    model = NeRF(coarse, RenderSettings(2.0, 6.0, n_samples=8, n_fine=8), fine=fine)
    o = torch.tensor([[0.0, 0.0, 4.0]]).repeat(5, 1)
    d = torch.tensor([[0.0, 0.0, -1.0]]).repeat(5, 1)
    model.render_rays(o, d)
    assert (coarse.points, fine.points) == (5 * 8, 5 * 16)


class _Seen(Field):
    """A field of given density and colour functions of the point that counts the samples it sees."""

    def __init__(self, sigma, rgb):
        super().__init__()
        self.sigma, self.rgb, self.seen = sigma, rgb, 0

    def forward(self, pts, dirs):
        self.seen += len(pts)
        return self.sigma(pts), self.rgb(pts)


def _wall():
    """An opaque half-space x > 0 (sigma 50) in a colour that varies with position."""
    return _Seen(lambda p: 50.0 * (p[:, 0] > 0).float(), torch.sigmoid)


@pytest.mark.parametrize("n_fine", [0, 24])
def test_early_ray_termination_skips_samples_behind_the_surface_and_changes_nothing_visible(n_fine):
    """Without gradients a ray stops once its transmittance is below stop_transmittance (1e-4): behind an
    opaque wall halfway along the rays most samples are never evaluated, and colour, opacity and depth stay
    within that bound of evaluating every sample (hierarchical sampling too: both passes stop)."""
    c2w = look_at(torch.tensor([4.0, 0.3, 0.2]))          # looking along -x at the wall's face x = 0
    out, seen = {}, {}
    for stop in (1e-4, 0.0):
        wall, fine = _wall(), _wall()
        model = NeRF(wall, RenderSettings(2.0, 6.0, n_samples=48, n_fine=n_fine, stop_transmittance=stop),
                     fine=fine if n_fine else None)
        out[stop], seen[stop] = model.render_image(c2w, 30.0, 16, 16), wall.seen + fine.seen
    assert seen[0.0] == 16 * 16 * (48 + (48 + n_fine if n_fine else 0))   # every sample: the reference
    assert seen[1e-4] < 0.7 * seen[0.0]                                   # the far half is skipped
    for k in ("rgb", "acc"):
        assert (out[1e-4][k] - out[0.0][k]).abs().max() <= 1e-4
    assert (out[1e-4]["depth"] - out[0.0]["depth"]).abs().max() <= 1e-4 * 6.0    # weight x far
    assert out[0.0]["acc"].min() > 0.999                                  # the wall is opaque


def test_early_ray_termination_is_off_while_training():
    """With gradients (training) every sample is evaluated, whatever stop_transmittance says."""
    wall = _wall()
    model = NeRF(wall, RenderSettings(2.0, 6.0, n_samples=48))
    o, d = torch.tensor([[4.0, 0.0, 0.0]]), torch.tensor([[-1.0, 0.0, 0.0]])
    with torch.enable_grad():
        model.render_rays(o, d)
    assert wall.seen == 48
    with torch.no_grad():
        model.render_rays(o, d)
    assert wall.seen - 48 < 48


def _slab():
    """Density 2 for |x| < 0.3 (a slab 0.6 thick), empty elsewhere; grey."""
    return _Seen(lambda p: 2.0 * (p[:, 0].abs() < 0.3).float(), lambda p: torch.full_like(p, 0.5))


def test_render_samples_are_used_only_to_render_images_and_integrate_closer():
    """render_samples replaces n_samples only without gradients and jitter (images, validation, video): training
    steps keep n_samples. Along a ray through the slab the opacity is 1 - exp(-2 x 0.6) = 0.699 exactly; 8 fixed
    samples from near 2 to far 6 (0.5 apart) see the slab in one sample (opacity 1 - exp(-1) = 0.632); 256 (1/64
    apart, at t = 2 + i / 64) put 39 in it (t = 3.70 ... 4.30): 1 - exp(-2 x 39 / 64) = 0.704."""
    o, d = torch.tensor([[4.0, 0.0, 0.0]]), torch.tensor([[-1.0, 0.0, 0.0]])
    exact = 1.0 - math.exp(-2.0 * 0.6)
    acc = {}
    for render in (None, 256):
        slab = _slab()
        model = NeRF(slab, RenderSettings(2.0, 6.0, n_samples=8, render_samples=render, stop_transmittance=0.0))
        with torch.enable_grad():
            model.render_rays(o, d)                                        # a training step's render
        model.render_rays(o, d, perturb=True, generator=torch.Generator().manual_seed(0))  # jittered: training
        assert slab.seen == 8 + 8
        with torch.no_grad():
            acc[render] = float(model.render_rays(o, d)["acc"][0])
        assert slab.seen == 16 + (render or 8)
    assert abs(acc[None] - (1.0 - math.exp(-1.0))) < 1e-4                   # one sample of delta 0.5 inside
    assert abs(acc[256] - (1.0 - math.exp(-2.0 * 39 / 64))) < 1e-4
    assert abs(acc[256] - exact) < 0.01 < abs(acc[None] - exact)
