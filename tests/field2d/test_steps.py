"""field2d.steps: the pixel step's batch and MSE by hand, and the fit calling it once per step."""
import pytest
import torch
from torch import nn

from cs180utils.field2d import image_to_targets, steps
from cs180utils.images import mse_to_psnr
from cs180utils.machinery.field2d.experiment import FitConfig, fit

from .helpers import TINY, smooth_image


class Recorder(nn.Module):
    """A "field" that answers colours + 0.1 for each coordinate it is asked about and remembers them."""

    def __init__(self, coords, colors, offset=0.1):
        super().__init__()
        self.table = {tuple(c.tolist()): col + offset for c, col in zip(coords, colors)}
        self.asked = []

    def forward(self, x):
        self.asked.append(x)
        return torch.stack([self.table[tuple(c.tolist())] for c in x])


def test_pixel_step_is_the_mse_of_a_random_batch_drawn_by_the_generator():
    coords, colors = image_to_targets(smooth_image(6, 5))                           # (30, 2), (30, 3)
    model = Recorder(coords, colors)
    loss = steps.pixel_step(model, coords, colors, 64, torch.Generator().manual_seed(3))
    assert loss.item() == pytest.approx(0.01)                                          # every answer off by 0.1
    (asked,) = model.asked
    drawn = torch.randint(30, (64,), generator=torch.Generator().manual_seed(3))      # uniform, with replacement
    assert torch.equal(asked, coords[drawn])
    again = steps.pixel_step(model, coords, colors, 64, torch.Generator().manual_seed(3))
    other = steps.pixel_step(model, coords, colors, 64, torch.Generator().manual_seed(4))
    assert torch.equal(model.asked[1], asked) and not torch.equal(model.asked[2], asked)
    assert again.item() == other.item() == pytest.approx(0.01)


def test_pixel_step_error_is_averaged_over_pixels_and_channels():
    coords, colors = image_to_targets(smooth_image(4, 4))                            # (16, 2), (16, 3)

    class Gray(nn.Module):
        def forward(self, x):
            return torch.full((x.shape[0], 3), 0.5)

    one = coords[:1], colors[:1]                                                      # one pixel: every draw is it
    expected = ((0.5 - colors[0]) ** 2).mean()
    assert steps.pixel_step(Gray(), *one, 7, torch.Generator().manual_seed(0)).item() == pytest.approx(expected.item())


def test_fit_calls_the_course_step_once_per_step(monkeypatch):
    """The loop's loss is the course's pixel_step (field2d/steps.py, what notebook 01 shows)."""
    real, calls = steps.pixel_step, []

    def spy(model, coords, colors, batch_size, generator=None):
        out = real(model, coords, colors, batch_size, generator)
        calls.append((coords.shape, batch_size, out.item()))
        return out

    monkeypatch.setattr(steps, "pixel_step", spy)
    result = fit(smooth_image(), FitConfig(steps=20, **{**TINY, "eval_every": 10, "snapshot_steps": (0,)}),
                 device="cpu", progress=False)
    assert len(calls) == result.steps == 20
    assert {c[:2] for c in calls} == {((16 * 20, 2), TINY["batch_size"])}
    # the training PSNR the history reports is the spied losses' mean, as dB, per evaluation
    means = [sum(c[2] for c in calls[i:i + 10]) / 10 for i in (0, 10)]
    assert result.history["train_psnr"] == pytest.approx([mse_to_psnr(m) for m in means], rel=1e-5)
