import torch

from cs180utils.nerf.samplers import deltas, ray_aabb, sample_along_rays, sample_pdf, stratified_t


def test_uniform_samples_course_spacing():
    o, d = torch.zeros(4, 3), torch.tensor([[0.0, 0.0, 1.0]] * 4)
    pts, t = sample_along_rays(o, d, 2.0, 6.0, 64, perturb=False)
    assert pts.shape == (4, 64, 3) and t.shape == (4, 64)
    assert torch.allclose(t[0, :3], torch.tensor([2.0, 2.0625, 2.125]))
    assert torch.allclose(deltas(t, 6.0), torch.full((4, 64), 4 / 64), atol=1e-6)
    assert torch.allclose(pts[..., 2], t)


def test_jitter_only_when_training_and_stays_in_bins():
    g = torch.Generator().manual_seed(0)
    t0 = stratified_t(2.0, 6.0, 16, 100)
    t = stratified_t(2.0, 6.0, 16, 100, perturb=True, generator=g)
    assert not torch.allclose(t, t0)
    assert ((t - t0) >= 0).all() and ((t - t0) < 4 / 16).all()
    assert torch.equal(stratified_t(2.0, 6.0, 16, 100), t0)


def test_ray_aabb_by_hand():
    aabb = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
    o = torch.tensor([[0.0, 0.0, -4.0], [3.0, 3.0, -4.0], [0.0, 0.0, 0.0]])
    d = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    tn, tf, hit = ray_aabb(o, d, aabb, near=0.0, far=10.0)
    assert hit.tolist() == [True, False, True]
    assert torch.allclose(tn[[0, 2]], torch.tensor([3.0, 0.0])) and torch.allclose(tf[[0, 2]], torch.tensor([5.0, 1.0]))


def test_sample_pdf_concentrates_where_weight_is():
    bins = torch.linspace(0, 1, 11).expand(2, 11)
    w = torch.zeros(2, 10)
    w[:, 7] = 1.0
    t = sample_pdf(bins, w, 32, perturb=True, generator=torch.Generator().manual_seed(0))
    assert t.shape == (2, 32)
    inside = ((t >= 0.7) & (t <= 0.8)).float().mean()
    assert inside > 0.95
