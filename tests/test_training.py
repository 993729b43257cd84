"""The one training loop: schedules, time budget, evaluation, checkpoint/resume with named differences,
non-finite losses, and a resumed run that equals an uninterrupted one."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from cs180utils.machinery import settings, training
from cs180utils.machinery.training import (Cosine, Exponential, IncompatibleCheckpoint, LoopConfig, OneCycle,
                                 TrainingDiverged, train_loop)


def schedule_cases():
    return [(Exponential(0.1), 0.0, 1.0), (Exponential(0.1), 0.5, math.sqrt(0.1)), (Exponential(0.1), 1.0, 0.1),
            (Cosine(0.0), 0.5, 0.5), (Cosine(0.2), 1.0, 0.2), (OneCycle(0.1, 0.05), 0.0, 0.05),
            (OneCycle(0.1, 0.05), 0.1, 1.0), (OneCycle(0.1, 0.05), 0.55, 0.5), (OneCycle(0.1, 0.05), 1.0, 0.0)]


@pytest.mark.parametrize("schedule,progress,factor", schedule_cases())
def test_schedules_by_hand(schedule, progress, factor):
    assert schedule(progress) == pytest.approx(factor, abs=1e-12)


def regression(seed=0):
    """Fit y = 3x - 1 with a Linear(1, 1): (model, optimizer, step_fn, evaluate, generator)."""
    torch.manual_seed(seed)
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(seed)

    def step_fn(step):
        x = torch.rand(16, 1, generator=gen)
        return torch.mean((model(x) - (3 * x - 1)) ** 2)

    def evaluate(step):
        x = torch.linspace(0, 1, 11)[:, None]
        return {"mse": float(torch.mean((model(x) - (3 * x - 1)) ** 2))}

    return model, opt, step_fn, evaluate, gen


def test_loss_falls_and_evaluations_land_where_asked(tmp_path):
    model, opt, step_fn, evaluate, gen = regression()
    res = train_loop(model, opt, step_fn, LoopConfig(steps=200, eval_every=50, log_every=10), evaluate=evaluate,
                     checkpoint=tmp_path / "c.pt", rngs={"batches": gen}, progress=False)
    assert [e["step"] for e in res.history["eval"]] == [50, 100, 150, 200]
    assert res.history["eval"][-1]["mse"] < 0.05 * res.history["eval"][0]["mse"] or res.final["mse"] < 1e-3
    assert len(res.history["train"]) == 20 and res.step == 200 and not res.stopped_at_max_seconds


def test_eval_at_adds_evaluations_between_the_regular_ones():
    model, opt, step_fn, evaluate, gen = regression()
    res = train_loop(model, opt, step_fn, LoopConfig(steps=100, eval_every=50, eval_at=(7, 50, 130, 3)),
                     evaluate=evaluate, rngs={"batches": gen}, progress=False)
    assert [e["step"] for e in res.history["eval"]] == [3, 7, 50, 100]   # 50 once; 130 is past the end
    with pytest.raises(ValueError, match="eval_at"):
        LoopConfig(steps=10, eval_at=(0, 5))


def test_schedule_sets_every_group_from_its_initial_rate(tmp_path):
    model, opt, step_fn, _, _ = regression()
    seen = []
    train_loop(model, opt, lambda s: (seen.append(opt.param_groups[0]["lr"]), step_fn(s))[1],
               LoopConfig(steps=4), schedule=Exponential(0.01), progress=False)
    assert seen == pytest.approx([0.1 * 0.01 ** (s / 4) for s in range(4)])


def test_resumed_run_equals_uninterrupted_one(tmp_path):
    model, opt, step_fn, evaluate, gen = regression()
    full = train_loop(model, opt, step_fn, LoopConfig(steps=60, eval_every=20), evaluate=evaluate,
                      rngs={"g": gen}, progress=False)
    ident = {"config": {"lr": 0.1, "steps": 30}, "data": "line"}
    model, opt, step_fn, evaluate, gen = regression()
    half = train_loop(model, opt, step_fn, LoopConfig(steps=30, eval_every=20), evaluate=evaluate,
                      checkpoint=tmp_path / "c.pt", identity=ident, rngs={"g": gen}, progress=False)
    assert half.step == 30
    model, opt, step_fn, evaluate, gen = regression(seed=5)   # other init and generator: all restored from disk
    ident["config"]["steps"] = 60                               # steps may grow
    rest = train_loop(model, opt, step_fn, LoopConfig(steps=60, eval_every=20), evaluate=evaluate,
                      checkpoint=tmp_path / "c.pt", identity=ident, rngs={"g": gen}, progress=False)
    assert rest.resumed_from == 30 and rest.step == 60
    assert rest.final["mse"] == pytest.approx(full.final["mse"], rel=1e-6)


def test_finished_run_is_returned_without_training(tmp_path):
    model, opt, step_fn, evaluate, gen = regression()
    ident = {"config": {"lr": 0.1}, "data": "line"}
    first = train_loop(model, opt, step_fn, LoopConfig(steps=10), evaluate=evaluate, checkpoint=tmp_path / "c.pt",
                       identity=ident, progress=False)
    calls = []
    again = train_loop(model, opt, lambda s: calls.append(s), LoopConfig(steps=10), evaluate=evaluate,
                       checkpoint=tmp_path / "c.pt", identity=ident, progress=False)
    assert calls == [] and again.final == first.final and again.resumed_from == 10


def test_final_evaluate_runs_at_the_end_even_after_a_periodic_one(tmp_path):
    """Periodic evaluations on a few examples, the last one on all: at step 20 both run, the final one last."""
    model, opt, step_fn, evaluate, _ = regression()
    res = train_loop(model, opt, step_fn, LoopConfig(steps=20, eval_every=10), evaluate=lambda s: {"views": 1.0},
                     final_evaluate=lambda s: {"views": 10.0}, progress=False)
    assert [(e["step"], e["views"]) for e in res.history["eval"]] == [(10, 1.0), (20, 10.0)]
    res = train_loop(model, opt, step_fn, LoopConfig(steps=20, eval_every=10, max_seconds=1e-9),
                     evaluate=lambda s: {"views": 1.0}, final_evaluate=lambda s: {"views": 10.0}, progress=False)
    assert res.stopped_at_max_seconds and res.final == {"views": 10.0}


def test_after_eval_can_stop_early_and_the_run_stays_finished(tmp_path):
    model, opt, step_fn, evaluate, gen = regression()
    ident = {"config": {"lr": 0.1}, "data": "line"}
    res = train_loop(model, opt, step_fn, LoopConfig(steps=100, eval_every=10), evaluate=evaluate,
                     after_eval=lambda step, m: step >= 30, checkpoint=tmp_path / "c.pt", identity=ident,
                     rngs={"g": gen}, progress=False)
    assert res.step == 30 and res.stopped_early and not res.stopped_at_max_seconds
    assert [e["step"] for e in res.history["eval"]] == [10, 20, 30]   # no second evaluation at step 30
    calls = []
    again = train_loop(model, opt, lambda s: calls.append(s), LoopConfig(steps=100, eval_every=10),
                       evaluate=evaluate, checkpoint=tmp_path / "c.pt", identity=ident, progress=False)
    assert calls == [] and again.step == 30 and again.stopped_early


def test_resume_names_the_setting_that_differs(tmp_path):
    model, opt, step_fn, _, _ = regression()
    train_loop(model, opt, step_fn, LoopConfig(steps=5), checkpoint=tmp_path / "c.pt",
               identity={"config": {"lr": 0.1, "width": 8}, "data": "a"}, progress=False)
    with pytest.raises(IncompatibleCheckpoint, match=r"lr: 0\.1 \(saved\) vs 0\.5 \(now\)") as e:
        train_loop(model, opt, step_fn, LoopConfig(steps=9), checkpoint=tmp_path / "c.pt",
                   identity={"config": {"lr": 0.5, "width": 8}, "data": "a"}, progress=False)
    assert "width" not in str(e.value) and "another --out" in str(e.value)
    with pytest.raises(IncompatibleCheckpoint, match="the data: 'a' \\(saved\\) vs 'b'"):
        train_loop(model, opt, step_fn, LoopConfig(steps=9), checkpoint=tmp_path / "c.pt",
                   identity={"config": {"lr": 0.1, "width": 8}, "data": "b"}, progress=False)


def test_time_budget_stops_and_ends_the_schedule(tmp_path):
    model, opt, step_fn, _, _ = regression()
    lrs = []

    def slow(step):
        lrs.append(opt.param_groups[0]["lr"])
        import time
        time.sleep(0.01)
        return step_fn(step)

    res = train_loop(model, opt, slow, LoopConfig(steps=10_000, max_seconds=0.2), schedule=Exponential(0.01),
                     progress=False)
    assert res.stopped_at_max_seconds and res.step < 10_000 and res.seconds >= 0.2
    assert lrs[-1] < 0.1 * 0.01 ** 0.8   # the schedule followed the time, not the (few) steps


def test_non_finite_loss_stops_without_saving_it(tmp_path):
    model, opt, step_fn, _, _ = regression()
    ckpt = tmp_path / "c.pt"
    with pytest.raises(TrainingDiverged, match="became nan at step 7.*lower the learning rate.*checkpoint"):
        train_loop(model, opt, lambda s: step_fn(s) * (float("nan") if s == 7 else 1.0),
                   LoopConfig(steps=20, checkpoint_every=5), checkpoint=ckpt, identity={"data": 1}, progress=False)
    state = torch.load(ckpt, weights_only=False)
    assert state["step"] == 5 and all(torch.isfinite(v).all() for v in state["model"].values())


def test_epoch_batches_reseed_per_epoch_and_resume_mid_epoch():
    loader = torch.utils.data.DataLoader(torch.arange(10), batch_size=3, shuffle=True)
    it = training.epoch_batches(loader, steps_per_epoch=3, seed=4)
    first = [next(it).tolist() for _ in range(7)]
    later = training.epoch_batches(loader, steps_per_epoch=3, start_step=4, seed=4)
    assert [next(later).tolist() for _ in range(3)] == first[4:7]


def test_run_dir_is_one_folder_per_setting(tmp_path, monkeypatch):
    from dataclasses import dataclass

    monkeypatch.setenv("CS180_RUNS_DIR", str(tmp_path))

    @dataclass
    class Cfg:
        lr: float = 1e-3
        device: str | None = None
        max_seconds: float | None = None
        steps: int = 10

    a = training.run_dir("part", "x", Cfg(), data="d")
    # a whole number in a float setting (a notebook's max_seconds=480) is the CLI's parsed 480.0: one folder
    assert training.run_dir("part", "x", Cfg(max_seconds=480), data="d") == \
        training.run_dir("part", "x", Cfg(max_seconds=480.0), data="d")
    assert settings.config_dict(Cfg(lr=1, steps=3)) == {"lr": 1.0, "device": None, "max_seconds": None, "steps": 3}
    assert isinstance(settings.config_dict(Cfg(steps=3))["steps"], int) and \
        settings.config_dict(Cfg(max_seconds=True))["max_seconds"] is True      # only int -> float, nothing else
    assert a == training.run_dir("part", "x", Cfg(device="cuda"), data="d")   # the device is not a setting
    assert a != training.run_dir("part", "x", Cfg(lr=1e-2), data="d")
    assert a != training.run_dir("part", "x", Cfg(), data="e")
    assert a.parent == tmp_path / "part" and a.name.startswith("x-")


def test_strict_json_has_no_nan():
    import json
    out = json.dumps(training.strict_json({"a": float("nan"), "b": [float("inf"), 1.5], "c": torch.tensor(2.0)}))
    assert out == '{"a": null, "b": [null, 1.5], "c": 2.0}'


# ---- settings -------------------------------------------------------------------------------------------------

def test_make_config_presets_overrides_and_unset():
    from dataclasses import dataclass

    @dataclass
    class Cfg:
        steps: int = 10                     # a setting
        max_seconds: float | None = None    # None is a value: no cap
        widths: tuple[int, ...] = (1, 2)

    presets = {"smoke": {"steps": 1}, "cpu": {"steps": 100, "max_seconds": 30.0}, "full": {"steps": 1000}}
    assert settings.make_config(Cfg, presets, "cpu") == Cfg(100, 30.0)
    assert settings.make_config(Cfg, presets, "cpu", max_seconds=None) == Cfg(100, None)
    assert settings.make_config(Cfg, presets, "cpu", max_seconds=settings.UNSET, steps=5) == Cfg(5, 30.0)
    with pytest.raises(ValueError, match="unknown Cfg settings \\['stepz'\\].*steps, max_seconds, widths"):
        settings.make_config(Cfg, presets, "cpu", stepz=3)
    d = settings.config_dict(Cfg(widths=(3, 4)))
    assert d == {"steps": 10, "max_seconds": None, "widths": [3, 4]}
    assert settings.from_dict(Cfg, {**d, "gone": 1}) == Cfg(widths=(3, 4))
    assert settings.differences(d, {**d, "steps": 11}, ignore=()) == {"steps": (10, 11)}


@dataclass
class _Inner:
    size: int = 3                           # a setting of the nested config
    shape: tuple[int, int] = (1, 2)


@dataclass
class _Outer:
    lr: float = 0.1
    inner: _Inner | None = None             # a nested config (or none)


def test_nested_config_round_trip():
    cfg = _Outer(inner=_Inner(size=5, shape=(7, 8)))
    d = settings.config_dict(cfg)
    assert d == {"lr": 0.1, "inner": {"size": 5, "shape": [7, 8]}}
    back = settings.from_dict(_Outer, d)
    assert back == cfg and isinstance(back.inner, _Inner) and back.inner.shape == (7, 8)
    assert settings.from_dict(_Outer, {"lr": 0.2, "inner": None}) == _Outer(lr=0.2)
    assert settings.from_dict(_Outer, {"inner": {"size": 4, "gone": 1}}).inner == _Inner(size=4)
    assert settings.differences(d, settings.config_dict(_Outer(inner=_Inner(size=6)))) == {
        "inner": ({"size": 5, "shape": [7, 8]}, {"size": 6, "shape": [1, 2]})}


def test_resume_uses_the_learning_rate_asked_now_not_the_saved_one(tmp_path):
    """Where ``may_change`` lets the rate change, the optimizer's real rate is the recorded (new) one: the saved
    optimizer state must not bring back the old rate (it did: 0.1 was used while 0.02 was recorded)."""
    model, opt, step_fn, _, _ = regression()
    train_loop(model, opt, step_fn, LoopConfig(steps=3), checkpoint=tmp_path / "c.pt",
               identity={"config": {"lr": 0.1}, "data": "a"}, progress=False)
    new = torch.optim.SGD(model.parameters(), lr=0.02)
    seen = []
    res = train_loop(model, new, lambda s: (seen.append(new.param_groups[0]["lr"]), step_fn(s))[1],
                     LoopConfig(steps=5), schedule=Exponential(0.5), checkpoint=tmp_path / "c.pt",
                     identity={"config": {"lr": 0.02}, "data": "a"}, may_change=("steps", "lr"), progress=False)
    assert res.resumed_from == 3
    assert seen == pytest.approx([0.02 * 0.5 ** (3 / 5), 0.02 * 0.5 ** (4 / 5)])
    saved = torch.load(tmp_path / "c.pt", weights_only=False)
    assert saved["identity"]["config"]["lr"] == 0.02 and saved["optimizer"]["param_groups"][0]["initial_lr"] == 0.02


def test_ctrl_c_says_which_checkpoint_is_kept(tmp_path):
    model, opt, step_fn, _, _ = regression()

    def interrupt_at(n):
        def fn(step):
            if step == n:
                raise KeyboardInterrupt
            return step_fn(step)
        return fn

    with pytest.raises(KeyboardInterrupt) as exc:   # before the first checkpoint: none
        train_loop(model, opt, interrupt_at(2), LoopConfig(steps=9, checkpoint_every=4),
                   checkpoint=tmp_path / "c.pt", progress=False)
    assert exc.value.checkpoint is None and not (tmp_path / "c.pt").exists()
    with pytest.raises(KeyboardInterrupt) as exc:   # after step 4's
        train_loop(model, opt, interrupt_at(6), LoopConfig(steps=9, checkpoint_every=4),
                   checkpoint=tmp_path / "c.pt", progress=False)
    assert exc.value.checkpoint == tmp_path / "c.pt"
    assert torch.load(tmp_path / "c.pt", weights_only=False)["step"] == 4


# ---- one training at a time per run folder (issue #34) ------------------------------------------------------------

def _hold_lock_in_another_process(folder):
    """A process holding ``folder``'s run lock the way a training does; returns it (kill it when done)."""
    import subprocess
    import sys
    code = ("import sys, time; from cs180utils.machinery import training\n"
            "with training.run_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)\n")
    root = Path(training.__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True, cwd=root)
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.skipif(training.fcntl is None, reason="flock is POSIX")
def test_a_second_training_into_a_held_run_folder_is_refused_naming_the_holder(tmp_path):
    run = tmp_path / "run"
    holder = _hold_lock_in_another_process(run)
    try:
        with pytest.raises(training.RunFolderBusy, match=rf"run folder {run} is in use by another training "
                                                         rf"\(pid {holder.pid}\); wait for it to finish, or pass "
                                                         rf"another --out"):
            with training.run_lock(run):
                pytest.fail("the lock was taken twice")
    finally:
        holder.kill()
        holder.wait()
    with training.run_lock(run):            # the holder died: its lock went with it (the stale file does not block)
        assert (run / training.LOCK).read_text().strip() == str(__import__("os").getpid())
    assert not (run / training.LOCK).exists()


@pytest.mark.skipif(training.fcntl is None, reason="flock is POSIX")
def test_run_lock_within_one_process_and_its_cleanup(tmp_path):
    run = tmp_path / "new" / "run"
    with training.run_lock(run):
        with pytest.raises(training.RunFolderBusy, match="is in use by another training"):
            with training.run_lock(run):
                pass
    assert not (tmp_path / "new" / "run").exists()     # created by the lock and left empty: removed again
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / training.LOCK).write_text("99999999\n")   # a stale file from a killed training
    with training.run_lock(tmp_path / "kept"):
        pass
    assert (tmp_path / "kept").is_dir() and not any((tmp_path / "kept").iterdir())


def test_extra_filled_while_training_is_saved_and_returned(tmp_path):
    """``extra`` is the caller's own dict: what the evaluation puts in it (the 2-D field's renders) is in the
    checkpoint and in the result, even when it starts empty."""
    model, opt, step_fn, evaluate, gen = regression()
    extra: dict = {}

    def evaluate_and_keep(step):
        extra["last"] = step
        return evaluate(step)

    res = train_loop(model, opt, step_fn, LoopConfig(steps=6, eval_every=3), evaluate=evaluate_and_keep,
                     checkpoint=tmp_path / "c.pt", extra=extra, progress=False)
    assert res.extra == {"last": 6}
    assert torch.load(tmp_path / "c.pt", weights_only=False)["extra"] == {"last": 6}
