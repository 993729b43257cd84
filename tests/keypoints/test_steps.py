"""keypoints.steps: the training steps' losses against values worked out by hand, on fixed "networks"."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cs180utils.keypoints import heatmaps as hm
from cs180utils.keypoints import steps


class Fixed(nn.Module):
    """A "network" whose output is one learnable tensor, whatever the images: (B, ...) = out for the batch."""

    def __init__(self, out: torch.Tensor):
        super().__init__()
        self.out = nn.Parameter(out.clone())
        self.seen = []

    def forward(self, images):
        self.seen.append(images)
        return self.out


# ---- regression: the CNNs (MSE) and the ResNet (L1) ----------------------------------------------------------

def _regression_case():
    """Two faces of one point on a 40 x 20 (W x H) input: targets (0.25, 0.5) and (0.75, 0.1) in fractions,
    predictions off by (+0.1, -0.3) and (-0.2, +0.2)."""
    kps = torch.tensor([[[10.0, 10.0]], [[30.0, 2.0]]])                                  # (B, K, 2) pixels
    pred = torch.tensor([[[0.35, 0.2]], [[0.55, 0.3]]])                                   # (B, K, 2) fractions
    return kps, pred, torch.tensor([40.0, 20.0])                                          # size (W, H)


def test_regression_l1_is_the_mean_absolute_offset_in_fractions_of_the_input():
    kps, pred, size = _regression_case()
    model = Fixed(pred)
    images = torch.zeros(2, 1, 20, 40)
    loss = steps.regression_step(model, images, kps, size, loss="l1")
    assert loss.item() == pytest.approx((0.1 + 0.3 + 0.2 + 0.2) / 4)
    assert model.seen == [images]                                   # the step runs the model on the batch
    loss.backward()                                                 # what the loop does next: d|e|/dpred = sign / N
    assert torch.allclose(model.out.grad, torch.tensor([[[1.0, -1.0]], [[-1.0, 1.0]]]) / 4)


def test_regression_mse_is_the_mean_squared_offset():
    kps, pred, size = _regression_case()
    loss = steps.regression_step(Fixed(pred), torch.zeros(2, 1, 20, 40), kps, size)         # mse: the default
    assert loss.item() == pytest.approx((0.01 + 0.09 + 0.04 + 0.04) / 4)
    # x is divided by W and y by H: with the size swapped the same predictions are judged against other targets
    swapped = steps.regression_step(Fixed(pred), torch.zeros(2, 1, 20, 40), kps, size.flip(0))
    assert swapped.item() != pytest.approx(loss.item())


def test_regression_on_a_square_crop_takes_its_side_and_a_perfect_guess_costs_nothing():
    kps = torch.tensor([[[32.0, 96.0], [64.0, 64.0]]])                                      # (1, 2, 2) crop pixels
    perfect = kps / 128
    assert steps.regression_step(Fixed(perfect), torch.zeros(1, 1, 128, 128), kps, 128, loss="l1").item() == 0
    off = steps.regression_step(Fixed(perfect + 0.05), torch.zeros(1, 1, 128, 128), kps, 128, loss="l1")
    assert off.item() == pytest.approx(0.05)
    with pytest.raises(ValueError, match="'mse' or 'l1'"):
        steps.regression_step(Fixed(perfect), torch.zeros(1, 1, 128, 128), kps, 128, loss="huber")


# ---- heatmaps: the U-Nets ------------------------------------------------------------------------------------

S, SIGMA = 16, 1.5
KPS = torch.tensor([[[5.5, 7.5], [10.0, 4.25]]])                    # (1, 2, 2) pixels of the 16 x 16 crop
SHIFT = torch.tensor([2.0, -1.0])                                    # a prediction 2 px right and 1 px up


def _gaussian(kps):
    return hm.gaussian_heatmaps(kps, (S, S), SIGMA)                 # (1, 2, S, S), peak 1


def test_heatmap_ce_of_the_true_blob_is_its_entropy_and_a_shifted_blob_costs_more():
    target = _gaussian(KPS)
    p = target / target.sum((-2, -1), keepdim=True)                 # each map a distribution over its pixels
    entropy = -(p * p.log()).sum((-2, -1)).mean()                    # the least cross-entropy against p
    perfect = steps.heatmap_step(Fixed(target.log()), torch.zeros(1, 1, S, S), KPS, "gaussian", SIGMA, "ce")
    assert perfect.item() == pytest.approx(entropy.item(), rel=1e-5)
    shifted_logits = _gaussian(KPS + SHIFT).log()
    shifted = steps.heatmap_step(Fixed(shifted_logits), torch.zeros(1, 1, S, S), KPS, "gaussian", SIGMA, "ce")
    # by hand: torch's cross-entropy of each map's S*S logits against the target's probabilities
    by_hand = F.cross_entropy(shifted_logits.flatten(2).flatten(0, 1), p.flatten(2).flatten(0, 1))
    assert shifted.item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert shifted.item() > perfect.item() + 0.5


def test_heatmap_mse_and_bce_per_pixel_against_the_dense_targets():
    target = _gaussian(KPS)
    zero = torch.zeros(1, 1, S, S)
    assert steps.heatmap_step(Fixed(target), zero, KPS, "gaussian", SIGMA, "mse").item() == pytest.approx(0, abs=1e-6)
    shifted = _gaussian(KPS + SHIFT)
    mse = steps.heatmap_step(Fixed(shifted), zero, KPS, "gaussian", SIGMA, "mse")
    assert mse.item() == pytest.approx(((shifted - target) ** 2).mean().item(), rel=1e-5)
    bce = steps.heatmap_step(Fixed(shifted), zero, KPS, "gaussian", SIGMA, "bce")
    assert bce.item() == pytest.approx(F.binary_cross_entropy_with_logits(shifted, target).item(), rel=1e-5)


def test_heatmap_binary_target_is_the_pixel_holding_the_point():
    # logits 10 at the pixel holding each point, 0 elsewhere: ce = logsumexp - 10 = log(e^10 + 255) - 10
    right = torch.zeros(1, 2, S, S)
    right[0, 0, 7, 5] = right[0, 1, 4, 10] = 10.0                  # (row, column) = floor(y), floor(x)
    zero = torch.zeros(1, 1, S, S)
    loss = steps.heatmap_step(Fixed(right), zero, KPS, "binary", loss="ce")
    expected = torch.log(torch.exp(torch.tensor(10.0)) + S * S - 1) - 10
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    wrong = right.roll(1, dims=-1)                                   # one pixel to the right
    assert steps.heatmap_step(Fixed(wrong), zero, KPS, "binary", loss="ce").item() == pytest.approx(10 + expected.item(),
                                                                                                     rel=1e-5)
