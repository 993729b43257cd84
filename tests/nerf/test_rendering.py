import math

import torch

from cs180utils.nerf.rendering import composite, normalize_depth, render_weights, volrend


def test_course_volrend_check():
    torch.manual_seed(42)
    sigmas = torch.rand((10, 64, 1))
    rgbs = torch.rand((10, 64, 3))
    rendered = volrend(sigmas, rgbs, 4.0 / 64)
    correct = torch.tensor([[0.5006, 0.3728, 0.4728], [0.5609, 0.4527, 0.5971], [0.5193, 0.4388, 0.4282],
                            [0.4985, 0.4357, 0.4916], [0.4768, 0.4866, 0.4636], [0.4872, 0.4408, 0.5255],
                            [0.5213, 0.4477, 0.4725], [0.5236, 0.4694, 0.4980], [0.5028, 0.4478, 0.5078],
                            [0.4891, 0.4567, 0.4853]])
    assert torch.allclose(rendered[0], correct[0], rtol=0, atol=1e-4)


def test_one_opaque_sample_gives_one_hot_weights_and_its_depth():
    sig = torch.zeros(1, 8)
    sig[0, 5] = 1e6
    t = torch.linspace(2, 6, 8)[None]
    w, T, alpha = render_weights(sig, torch.full((1, 8), 0.5))
    assert torch.allclose(w, torch.nn.functional.one_hot(torch.tensor([5]), 8).float())
    rgbs = torch.rand(1, 8, 3)
    out = composite(w, rgbs, t, background=1.0)
    assert torch.allclose(out["depth"], t[:, 5]) and torch.allclose(out["rgb"], rgbs[:, 5])
    assert torch.allclose(out["acc"], torch.ones(1))


def test_constant_density_transmittance_is_exponential():
    sigma, S, dt = 0.7, 50, 0.1
    w, T, alpha = render_weights(torch.full((1, S), sigma), torch.full((1, S), dt))
    t = torch.arange(S) * dt
    assert torch.allclose(T[0], torch.exp(-sigma * t), atol=1e-6)
    assert math.isclose(float(w.sum()), 1 - math.exp(-sigma * S * dt), rel_tol=1e-5)


def test_empty_ray_shows_background():
    w, _, _ = render_weights(torch.zeros(2, 4), torch.ones(2, 4))
    out = composite(w, torch.rand(2, 4, 3), background=(0.2, 0.4, 0.6))
    assert torch.allclose(out["rgb"], torch.tensor([[0.2, 0.4, 0.6]] * 2))


def test_normalize_depth():
    d = torch.tensor([2.0, 3.0, 6.0])
    assert torch.allclose(normalize_depth(d, 2.0, 6.0), torch.tensor([0.0, 0.25, 1.0]))
    assert torch.allclose(normalize_depth(d, mask=torch.tensor([True, True, False])), torch.tensor([0.0, 1.0, 1.0]))
