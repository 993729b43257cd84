"""Heatmap targets for a whole batch and their read-outs, in continuous pixels: cell (row i, column j) is
centred at (j + 0.5, i + 0.5)."""
import pytest
import torch

from cs180utils.keypoints import heatmaps as hm


def test_gaussian_matches_the_loop_and_hand_values():
    kps = torch.tensor([[[3.5, 4.5], [10.75, 3.0]], [[-2.5, 20.5], [7.5, 7.5]]])      # (B=2, K=2, 2)
    fast = hm.gaussian_heatmaps(kps, (12, 16), sigma=2.0)
    assert fast.shape == (2, 2, 12, 16)
    torch.testing.assert_close(fast, hm.gaussian_heatmaps_loop(kps, (12, 16), sigma=2.0))
    assert fast[0, 0, 4, 3] == 1.0                                     # peak in the cell (row 4, col 3) at (3.5, 4.5)
    assert fast[0, 0, 4, 5].item() == pytest.approx(torch.exp(torch.tensor(-0.5)).item())  # 2 px = 1 sigma
    assert fast[0, 1, 3, 10].item() == pytest.approx(0.961691, abs=1e-6)   # cell centre (10.5, 3.5), 0.56 px away
    with pytest.raises(ValueError, match="sigma"):
        hm.gaussian_heatmaps(kps, (12, 16), sigma=0)
    with pytest.raises(ValueError, match="B, K, 2"):
        hm.gaussian_heatmaps(kps[0], (12, 16))


def test_binary_one_pixel_per_keypoint():
    kps = torch.tensor([[[3.9, 5.1], [15.5, 11.5], [16.5, 0.5]]])                   # last one off the map
    b = hm.binary_heatmaps(kps, (12, 16))
    assert b.shape == (1, 3, 12, 16)
    assert b[0, 0, 5, 3] == 1 and b[0, 0].sum() == 1                               # the cell holding (3.9, 5.1)
    assert b[0, 1, 11, 15] == 1 and b[0, 1].sum() == 1
    assert b[0, 2].sum() == 0


def test_argmax_and_soft_argmax_recover_a_planted_point():
    truth = torch.tensor([[[12.3, 7.8], [30.6, 21.1]]])
    h = hm.gaussian_heatmaps(truth, (32, 40), sigma=2.0)
    am = hm.argmax_coords(h)
    torch.testing.assert_close(am, torch.tensor([[[12.5, 7.5], [30.5, 21.5]]]))     # the nearest cell centres
    sa = hm.soft_argmax(h, normalize="sum")
    assert (sa - truth).abs().max() < 0.01                                          # sub-pixel
    # as logits: log of a Gaussian is a parabola, whose softmax is that Gaussian again
    sa_logits = hm.soft_argmax(torch.log(h.clamp_min(1e-30)), normalize="softmax")
    assert (sa_logits - truth).abs().max() < 0.01


def test_ce_loss_is_lowest_at_the_target_and_ignores_off_map_points():
    kps = torch.tensor([[[8.0, 8.0], [40.0, 40.0]]])                               # second point off a 16x16 map
    t = hm.gaussian_heatmaps(kps, (16, 16), sigma=2.0)
    good = torch.log(t.clamp_min(1e-30))
    worse = torch.log(hm.gaussian_heatmaps(kps + 3, (16, 16), sigma=2.0).clamp_min(1e-30))
    assert hm.heatmap_loss(good, t, "ce") < hm.heatmap_loss(worse, t, "ce")
    assert torch.isfinite(hm.heatmap_loss(torch.zeros_like(t), t, "ce"))
    # by hand: flat logits give log(H*W) for any target; a one-hot target whose pixel has logit a, the rest 0,
    # gives log(H*W - 1 + e^a) - a; the off-map keypoint adds nothing to the mean
    assert float(hm.heatmap_loss(torch.zeros_like(t), t, "ce")) == pytest.approx(torch.log(torch.tensor(256.0)).item())
    one_hot = hm.binary_heatmaps(kps, (16, 16))
    a = 3.0
    assert float(hm.heatmap_loss(one_hot * a, one_hot, "ce")) == pytest.approx(
        torch.log(torch.tensor(255 + torch.e ** a)).item() - a, rel=1e-6)
    with pytest.raises(ValueError, match="match"):
        hm.heatmap_loss(good, t[:, :1], "ce")


def test_read_out_methods():
    truth = torch.tensor([[[5.5, 6.5]]])                                            # a cell's centre
    logits = torch.log(hm.gaussian_heatmaps(truth, (16, 16), 1.5).clamp_min(1e-30))
    for method in ("soft-argmax", "argmax"):
        assert (hm.read_out(logits, method, "ce") - truth).abs().max() < 0.05
    with pytest.raises(ValueError, match="read-out"):
        hm.read_out(logits, "median")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_targets_are_made_on_the_device():
    kps = torch.rand(4, 68, 2, device="cuda") * 64
    assert hm.gaussian_heatmaps(kps, (64, 64)).device.type == "cuda"
    assert hm.binary_heatmaps(kps, (64, 64)).device.type == "cuda"


@pytest.mark.parametrize("kind", ["gaussian", "binary"])
def test_factored_targets_equal_the_dense_ones(kind):
    kps = torch.tensor([[[3.3, 4.6], [15.0, 0.0], [-2.0, 5.0], [7.5, 11.4]]])   # one off the map
    t = hm.factored_targets(kps, (12, 16), kind, sigma=1.5)
    assert t.gy.shape == (1, 4, 12) and t.gx.shape == (1, 4, 16)
    torch.testing.assert_close(t.dense(), hm.make_targets(kps, (12, 16), kind, sigma=1.5))


@pytest.mark.parametrize("kind", ["gaussian", "binary"])
@pytest.mark.parametrize("loss", ["ce", "mse", "bce"])
def test_losses_on_factored_targets_equal_the_dense_losses_and_gradients(kind, loss):
    gen = torch.Generator().manual_seed(0)
    kps = torch.rand(3, 5, 2, generator=gen) * 14
    kps[0, 0] = torch.tensor([-4.0, 3.0])                                      # off the map: ignored by ce
    a = torch.randn(3, 5, 12, 16, generator=gen, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    dense = hm.heatmap_loss(a, hm.make_targets(kps, (12, 16), kind, 2.0), loss)
    fact = hm.heatmap_loss(b, hm.factored_targets(kps, (12, 16), kind, 2.0), loss)
    torch.testing.assert_close(fact, dense)
    dense.backward()
    fact.backward()
    torch.testing.assert_close(b.grad, a.grad)


def test_factored_targets_of_the_wrong_size_are_refused():
    t = hm.factored_targets(torch.zeros(2, 3, 2), (8, 8))
    with pytest.raises(ValueError, match="do not match"):
        hm.heatmap_loss(torch.zeros(2, 3, 8, 9), t, "ce")


def test_local_soft_argmax_ignores_a_second_blob_that_drags_the_global_one():
    truth = torch.tensor([[[10.3, 12.6]]])
    decoy = torch.tensor([[[40.0, 40.0]]])
    h = hm.gaussian_heatmaps(truth, (48, 48), 2.0) + 0.6 * hm.gaussian_heatmaps(decoy, (48, 48), 2.0)
    glob = hm.soft_argmax(h, normalize="sum")
    local = hm.soft_argmax(h, normalize="sum", window=6)
    assert (glob - truth).norm() > 5            # the decoy's mass pulls the global average far off
    assert (local - truth).norm() < 0.05        # the window around the peak keeps it sub-pixel
    # a window covering the whole map is the global soft-argmax
    torch.testing.assert_close(hm.soft_argmax(h, "sum", window=48), glob)
    with pytest.raises(ValueError, match="radius"):
        hm.soft_argmax(h, window=-1)
