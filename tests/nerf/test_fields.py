"""The field contract (cs180utils.nerf.fields.Field): what its hooks do when a field leaves them alone, and that
the renderer and the optimizer's groups go through them."""
import math

import pytest
import torch

from cs180utils.nerf.fields import Field, NerfField
from cs180utils.nerf.model import NeRF, RenderSettings


class _Fog(Field):
    """Density ``sigma`` and colour ``rgb`` everywhere; one learnable number, no hooks overridden."""

    def __init__(self, sigma: float = 0.5, rgb=(0.2, 0.4, 0.8)):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(1.0))
        self.sigma, self.rgb, self.calls = sigma, torch.tensor(rgb), 0

    def forward(self, points, dirs):
        self.calls += 1
        n = points.shape[0]
        return self.scale * torch.full((n,), self.sigma), self.rgb.expand(n, 3)


def test_a_field_must_say_how_points_become_density_and_colour():
    with pytest.raises(NotImplementedError, match="forward"):
        Field()(torch.zeros(1, 3), torch.zeros(1, 3))


def test_the_hooks_defaults_change_nothing():
    f = _Fog()
    tn, tf, hit = torch.tensor([2.0, 3.0]), torch.tensor([6.0, 5.0]), torch.tensor([True, False])
    out = f.ray_bounds(torch.zeros(2, 3), torch.ones(2, 3), tn, tf, hit)
    assert out[0] is tn and out[1] is tf and out[2] is hit                # the renderer's range as it is
    assert f.sample_mask(torch.zeros(2, 5, 3), torch.ones(2, 5)) is None  # every sample
    assert f.on_train_step(7) is None and float(f.scale) == 1.0           # nothing happens
    assert f.param_groups(1e-3) == [{"params": [f.scale], "lr": 1e-3}]   # one group, all parameters


def test_nerf_collects_each_fields_groups_coarse_first():
    coarse, fine = NerfField(width=8, depth=2, skip=1, L_pos=1, L_dir=1), _Fog()
    model = NeRF(coarse, RenderSettings(2.0, 6.0, n_samples=4, n_fine=4), fine=fine)
    groups = model.param_groups(0.01)
    assert [g["lr"] for g in groups] == [0.01, 0.01]
    assert groups[0]["params"] == list(coarse.parameters()) and groups[1]["params"] == [fine.scale]


def test_a_field_without_hooks_renders_the_fog_integral():
    """Constant density 0.5 from near 2 to far 6: the samples' intervals add up to far - near = 4, so the opacity
    is 1 - exp(-0.5 x 4) = 0.8647 for any number of samples, and the colour is the fog's times that."""
    model = NeRF(_Fog(), RenderSettings(2.0, 6.0, n_samples=8, stop_transmittance=0.0))
    out = model.render_rays(torch.tensor([[0.0, 0.0, 10.0]]), torch.tensor([[0.0, 0.0, -1.0]]))
    acc = 1.0 - math.exp(-2.0)
    assert abs(float(out["acc"][0]) - acc) < 1e-6
    assert torch.allclose(out["rgb"][0], torch.tensor([0.2, 0.4, 0.8]) * acc, atol=1e-6)


def test_the_renderer_samples_only_the_range_a_field_keeps():
    class Nowhere(_Fog):
        def ray_bounds(self, rays_o, rays_d, t_near, t_far, hit):
            return t_near, t_far, torch.zeros_like(hit)                  # no ray meets anything

    f = Nowhere()
    model = NeRF(f, RenderSettings(2.0, 6.0, n_samples=8, background=(1.0, 1.0, 1.0)))
    out = model.render_rays(torch.zeros(3, 3), torch.tensor([[0.0, 0.0, 1.0]]).repeat(3, 1))
    assert f.calls == 0 and torch.equal(out["rgb"], torch.ones(3, 3)) and torch.equal(out["acc"], torch.zeros(3))


def test_a_plain_module_is_refused_with_the_contract_named():
    class Plain(torch.nn.Module):
        def forward(self, points, dirs):
            return points[:, 0], points

    with pytest.raises(TypeError, match="subclass Field"):
        NeRF(Plain(), RenderSettings(2.0, 6.0))
