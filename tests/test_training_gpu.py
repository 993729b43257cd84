"""The training loop's GPU paths, exercised on the CPU: mixed precision (autocast, the float16 gradient scaler)
and losses read every log_every steps instead of at each step (no host-device synchronisation per step)."""
from __future__ import annotations

import pytest
import torch

from cs180utils.machinery import training
from cs180utils.machinery.training import LoopConfig, TrainingDiverged, train_loop


def regression(seed=0, seen=None):
    """Fit y = 3x - 1 with a Linear(1, 1) (``seen`` collects the dtype of each step's forward output)."""
    torch.manual_seed(seed)
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(seed)

    def step_fn(step):
        x = torch.rand(16, 1, generator=gen)
        y = model(x)
        if seen is not None:
            seen.append(y.dtype)
        return torch.mean((y.float() - (3 * x - 1)) ** 2)

    return model, opt, step_fn


def test_reading_losses_every_log_period_gives_the_same_numbers(tmp_path):
    runs = []
    for every_step in (True, False):
        model, opt, step_fn = regression()
        res = train_loop(model, opt, step_fn, LoopConfig(steps=30, log_every=10), progress=False,
                         read_every_step=every_step)
        runs.append((res.history["train"], model.weight.item(), model.bias.item()))
    assert runs[0] == runs[1]
    assert [r["step"] for r in runs[0][0]] == [10, 20, 30] and runs[0][0][-1]["loss"] < runs[0][0][0]["loss"]


def test_deferred_non_finite_loss_names_its_step_and_saves_nothing_after_it(tmp_path):
    model, opt, step_fn = regression()
    ckpt = tmp_path / "c.pt"
    with pytest.raises(TrainingDiverged, match="became nan at step 7"):
        train_loop(model, opt, lambda s: step_fn(s) * (float("nan") if s == 7 else 1.0),
                   LoopConfig(steps=20, checkpoint_every=5), checkpoint=ckpt, identity={"data": 1}, progress=False,
                   read_every_step=False)
    state = torch.load(ckpt, weights_only=False)
    assert state["step"] == 5 and all(torch.isfinite(v).all() for v in state["model"].values())


def test_bfloat16_autocast_runs_the_step_in_low_precision_and_learns():
    seen = []
    model, opt, step_fn = regression(seen=seen)
    res = train_loop(model, opt, step_fn, LoopConfig(steps=60, log_every=20), progress=False,
                     precision=torch.bfloat16)
    assert set(seen) == {torch.bfloat16}                 # the forward ran under autocast
    assert model.weight.dtype == torch.float32            # the weights stay float32
    m32, opt32, step32 = regression()
    full = train_loop(m32, opt32, step32, LoopConfig(steps=60, log_every=20), progress=False)
    # the same descent as in float32 (0.575 -> 0.388 -> 0.200 over 60 steps), to bfloat16's ~3 digits
    for low, ref in zip(res.history["train"], full.history["train"]):
        assert low["loss"] == pytest.approx(ref["loss"], rel=5e-3)
    assert res.history["train"][-1]["loss"] < 0.5 * res.history["train"][0]["loss"]


def test_float16_scales_the_loss_and_resumes_the_scaler(tmp_path):
    seen, grads = [], []
    model, opt, step_fn = regression(seen=seen)
    ckpt = tmp_path / "c.pt"
    res = train_loop(model, opt, step_fn, LoopConfig(steps=40, log_every=10), progress=False,
                     precision=torch.float16, checkpoint=ckpt, identity={"data": 1},
                     before_step=lambda s: grads.append(model.weight.grad.abs().item()))
    assert set(seen) == {torch.float16}
    # before_step sees unscaled gradients (the scaler starts at 2**16: scaled ones would be far above 100)
    assert max(grads) < 100
    assert res.history["train"][-1]["loss"] < 0.5 * res.history["train"][0]["loss"]
    state = torch.load(ckpt, weights_only=False)
    assert state["scaler"]["scale"] > 0
    model2, opt2, step_fn2 = regression()
    res2 = train_loop(model2, opt2, step_fn2, LoopConfig(steps=50, log_every=10), progress=False,
                      precision=torch.float16, checkpoint=ckpt, identity={"data": 1})
    assert res2.resumed_from == 40 and res2.step == 50


def test_gpu_settings_leave_a_cpu_run_as_it_was(monkeypatch):
    assert training.autocast_dtype("cpu") is None
    assert training.gpu_settings("cpu") == {"precision": None}
    assert training.loader_settings("cpu") == {}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert training.autocast_dtype("cuda") == torch.float16          # a T4: float16 with the scaler
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert training.autocast_dtype("cuda") == torch.bfloat16
    monkeypatch.setenv("CS180_AMP", "0")
    assert training.autocast_dtype("cuda") is None
    assert training.loader_settings("cuda", workers=2) == {"num_workers": 2, "pin_memory": True,
                                                           "persistent_workers": False}


def test_channels_last_on_the_cpu_changes_the_layout_not_the_numbers():
    from cs180utils.keypoints.unet import UNet
    assert training.memory_format("cpu") == torch.channels_last
    assert training.memory_format("cuda") == torch.preserve_format
    torch.manual_seed(0)
    nchw = UNet(1, 5, widths=(4, 8, 16))
    nhwc = UNet(1, 5, widths=(4, 8, 16))
    nhwc.load_state_dict(nchw.state_dict())
    nhwc.to("cpu", memory_format=training.memory_format("cpu"))
    conv = nhwc.inc[3].weight                                              # (4, 4, 3, 3)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    x = torch.rand(2, 1, 24, 24) - 0.5                                      # (B, 1, H, W)
    outs = []
    for model in (nchw, nhwc):
        out = model(x)                                                      # (B, K, H, W)
        out.square().mean().backward()
        outs.append((out.detach(), model.inc[3].weight.grad.clone()))
    torch.testing.assert_close(outs[1][0], outs[0][0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(outs[1][1].contiguous(), outs[0][1], rtol=1e-3, atol=1e-5)
