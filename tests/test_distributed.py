"""Data-parallel training (cs180utils.machinery.distributed): N processes under gloo train the weights one
process trains with the same global batch, only rank 0 writes, and without torchrun nothing changes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from cs180utils.machinery import config, distributed, training

GLOBAL_BATCH = 8
STEPS = 5


def _toy_training(out: Path, world: int, rank: int) -> dict:
    """A 3-layer MLP fitted to a fixed regression by train_loop; every process draws the same global batch
    and trains on its part through the DistributedDataParallel wrapper."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 2))
    ddp = distributed.wrap(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(1)
    w_true = torch.randn(4, 2, generator=torch.Generator().manual_seed(2))

    def step_fn(step: int):
        x = torch.randn(GLOBAL_BATCH, 4, generator=gen)              # (B, 4): the same in every process
        y = torch.sin(x @ w_true)                                     # (B, 2)
        x, y = distributed.shard(x, y)                                # (B / N, 4), (B / N, 2)
        return torch.mean((ddp(x) - y) ** 2)

    res = training.train_loop(ddp, opt, step_fn, training.LoopConfig(steps=STEPS, log_every=1),
                              checkpoint=out / training.CHECKPOINT, identity={"config": {"world": 1}},
                              rngs={"batches": gen}, progress=False)
    return {"weights": {k: v.clone() for k, v in model.state_dict().items()},
            "losses": [row["loss"] for row in res.history["train"]]}


def _worker(rank: int, world: int, init: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        result = _toy_training(Path(out), world, rank)
        torch.save(result, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_train_the_weights_of_one_with_the_same_global_batch(tmp_path):
    one = _toy_training(tmp_path / "one", 1, 0)
    two = tmp_path / "two"
    two.mkdir()
    mp.spawn(_worker, args=(2, f"file://{tmp_path / 'rendezvous'}", str(two)), nprocs=2, join=True)
    r0, r1 = torch.load(two / "rank0.pt"), torch.load(two / "rank1.pt")
    for name, w in one["weights"].items():
        torch.testing.assert_close(r0["weights"][name], w, rtol=1e-5, atol=1e-6)   # as one process trains them
        torch.testing.assert_close(r1["weights"][name], r0["weights"][name], rtol=0, atol=0)   # every rank alike
    # the logged loss is the global batch's (the mean of the two halves' means), not rank 0's half
    assert r0["losses"] == pytest.approx(one["losses"], rel=1e-5) and r1["losses"] == r0["losses"]
    # rank 0 wrote the checkpoint, and it holds the unwrapped model's weights (no "module." prefix)
    saved = torch.load(two / training.CHECKPOINT, weights_only=False)
    assert set(saved["model"]) == set(one["weights"]) and saved["step"] == STEPS


def test_without_torchrun_everything_is_the_identity():
    x, y = torch.arange(6.0), torch.arange(6.0) * 2
    assert distributed.world_size() == 1 and distributed.rank() == 0 and distributed.is_main()
    assert distributed.shard(x) is x and distributed.shard(x, y) == (x, y)
    model = nn.Linear(2, 2)
    assert distributed.wrap(model) is model and distributed.unwrap(model) is model
    v = torch.tensor(3.0)
    assert distributed.mean_across(v) is v and distributed.any_across(True) and not distributed.any_across(False)


def test_a_process_other_than_rank_0_writes_no_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "is_main", lambda: False)
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    res = training.train_loop(model, opt, lambda step: model(torch.ones(1, 2)).pow(2).mean(),
                              training.LoopConfig(steps=3, checkpoint_every=1), checkpoint=tmp_path / "c.pt",
                              progress=False)
    assert res.step == 3 and not (tmp_path / "c.pt").exists()
    assert not training.write_result(tmp_path, {"x": 1}).exists()


def test_an_uneven_global_batch_is_refused_with_what_to_do(monkeypatch):
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    monkeypatch.setattr(distributed, "rank", lambda: 1)
    a, b = torch.arange(6), torch.arange(6) * 10
    assert [t.tolist() for t in distributed.shard(a, b)] == [[3, 4, 5], [30, 40, 50]]   # rank 1's half
    with pytest.raises(ValueError, match="multiple of --nproc_per_node 2"):
        distributed.shard(torch.arange(5))


def _torchrun(args: list[str], out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CS180_PROFILE": "smoke", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "cs180utils", *args, "--out", str(out), "--fresh"],
                          cwd=config.REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("args", [["train", "nerf", "--steps", "2"], ["train", "unet", "--epochs", "1"]],
                         ids=["nerf", "unet"])
def test_torchrun_trains_with_two_processes_and_rank_0_alone_reports(tmp_path, args):
    proc = _torchrun(args, tmp_path / "run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, proc.stdout                      # one JSON line: rank 0's
    assert lines[0]["steps"] >= 1 and (tmp_path / "run" / training.CHECKPOINT).is_file()
    assert json.loads((tmp_path / "run" / training.RESULT).read_text())["steps"] == lines[0]["steps"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [training.CHECKPOINT, training.RESULT]


def test_torchrun_refuses_a_training_that_does_not_split_its_batches(tmp_path):
    proc = _torchrun(["train", "field2d", "--steps", "2"], tmp_path / "run")
    assert proc.returncode != 0
    assert "trains in one process; run it with python -m cs180utils, not torchrun" in proc.stderr
