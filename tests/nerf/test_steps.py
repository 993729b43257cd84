"""The course's NeRF step (cs180utils.nerf.steps.nerf_step): the loss and logs it returns, by hand, and that the
experiment's training takes exactly this step."""
import math

import pytest
import torch

from cs180utils.machinery.nerf import experiment
from cs180utils.nerf import steps
from cs180utils.nerf.fields import Field
from cs180utils.nerf.model import NeRF, RenderSettings
from cs180utils.nerf.scene import generate_scene

COLOUR = (0.2, 0.4, 0.8)


class _Opaque(Field):
    """Density 50 x ``scale`` everywhere (opaque after 4 units: opacity 1 - exp(-200)), colour COLOUR."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(1.0))

    def forward(self, points, dirs):
        n = points.shape[0]
        return 50.0 * self.scale.expand(n), torch.tensor(COLOUR).expand(n, 3)


def _rays(n=4):
    return torch.tensor([[0.0, 0.0, 10.0]]).repeat(n, 1), torch.tensor([[0.0, 0.0, -1.0]]).repeat(n, 1)


@pytest.mark.parametrize("hierarchical", [False, True])
def test_the_loss_is_the_mse_to_the_pixels_and_leaves_the_optimizer_to_the_loop(hierarchical):
    """Every ray renders COLOUR; against black pixels the MSE is (0.04 + 0.16 + 0.64) / 3 = 0.28, PSNR
    -10 log10 0.28 = 5.53 dB. Hierarchical: the coarse field's MSE is added (0.56), the PSNR is the fine one's."""
    coarse, fine = _Opaque(), _Opaque() if hierarchical else None
    model = NeRF(coarse, RenderSettings(2.0, 6.0, n_samples=8, n_fine=8 if hierarchical else 0), fine=fine)
    rays_o, rays_d = _rays()
    loss, logs = steps.nerf_step(model, rays_o, rays_d, torch.zeros(4, 3), torch.Generator().manual_seed(0))
    assert abs(float(loss) - (0.56 if hierarchical else 0.28)) < 1e-6
    assert abs(logs["psnr"] - (-10.0 * math.log10(0.28))) < 1e-4 and isinstance(logs["psnr"], float)
    assert coarse.scale.grad is None                                     # no backward, no optimizer step here
    loss.backward()                                                      # the loop's part
    assert coarse.scale.grad is not None


def test_the_experiment_trains_through_the_course_step(monkeypatch, tmp_path):
    calls = []

    def counted(model, rays_o, rays_d, target, generator=None):
        calls.append((rays_o.shape, rays_d.shape, target.shape))
        return real(model, rays_o, rays_d, target, generator)

    real = steps.nerf_step
    monkeypatch.setattr(steps, "nerf_step", counted)
    scene = generate_scene(size=16, n_train=4, n_val=1, n_test=1)
    cfg = experiment.config("vanilla", "smoke", steps=3, batch_size=64, width=16, depth=2, n_samples=8,
                            image_size=16, eval_every=100, checkpoint_every=100, log_every=1)
    experiment.train(cfg, scene, tmp_path, progress=False)
    assert calls == [((64, 3), (64, 3), (64, 3))] * 3
