"""Checkpoints: atomic saves that survive a crash mid-write, and errors that say what to do."""
from __future__ import annotations

import pytest
import torch

from cs180utils.machinery.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


class Explodes:
    """Pickling this raises, after torch.save has already written part of the file."""

    def __init__(self, exc: BaseException):
        self.exc = exc

    def __reduce__(self):
        raise self.exc


def state(step: int) -> dict:
    torch.manual_seed(step)
    model = torch.nn.Linear(3, 2)
    return {"model": model.state_dict(), "step": step, "history": {"loss": [1.0, 0.5]}, "config": {"lr": 1e-3}}


def test_round_trip(tmp_path):
    path = save_checkpoint(tmp_path / "runs" / "ckpt.pt", state(5))   # creates the folder
    loaded = load_checkpoint(path)
    assert loaded["step"] == 5 and loaded["history"]["loss"] == [1.0, 0.5]
    assert torch.equal(loaded["model"]["weight"], state(5)["model"]["weight"])
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pt"]     # no temporary file left


@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_exception_mid_write_keeps_the_old_checkpoint(tmp_path, exc):
    path = save_checkpoint(tmp_path / "ckpt.pt", state(1))
    big = {"model": torch.randn(256, 256), "step": 2, "boom": Explodes(exc)}   # a plain torch.save(path) would
    # already have truncated the old file here
    with pytest.raises(type(exc)):
        save_checkpoint(path, big)
    assert load_checkpoint(path)["step"] == 1                            # the previous one, intact
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]           # the half-written temp file is gone


def test_truncated_checkpoint_gives_advice(tmp_path):
    path = save_checkpoint(tmp_path / "ckpt.pt", state(1))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="unreadable .* delete it and train again"):
        load_checkpoint(path)


def test_garbage_and_missing_and_wrong_type(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="delete it and train again"):
        load_checkpoint(junk)
    with pytest.raises(CheckpointError, match="does not exist: train first"):
        load_checkpoint(tmp_path / "nope.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="holds a list, not a cs180 checkpoint dict"):
        load_checkpoint(tmp_path / "list.pt")
    assert issubclass(CheckpointError, RuntimeError)   # the CLI turns it into one 'error:' line, exit 1


def test_checkpoint_has_ordinary_permissions(tmp_path):
    import os
    from cs180utils.machinery.checkpoint import save_checkpoint
    umask = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "c.pt", {"step": 1})
    finally:
        os.umask(umask)
    assert (path.stat().st_mode & 0o777) == 0o644


def test_weights_that_do_not_fit_name_the_file_and_a_few_keys(tmp_path):
    """Missing, unexpected and reshaped keys in one line with the checkpoint's path and what to do (issue #34)."""
    from cs180utils.machinery.checkpoint import load_weights, weights_mismatch
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    good = net.state_dict()
    assert weights_mismatch(net, good) is None
    bad = {k: v for k, v in good.items() if k != "1.bias"}
    bad.update({"0.weight": torch.zeros(4, 2), **{f"extra.{i}": torch.zeros(1) for i in range(5)}})
    assert weights_mismatch(net, bad) == ("missing: 1.bias; unexpected: extra.0, extra.1, extra.2 and 2 more; "
                                          "other shapes (saved vs model): 0.weight (4, 2) vs (3, 2)")
    with pytest.raises(CheckpointError, match=r"^checkpoint .*c.pt does not fit the model its settings build "
                                              r"\(missing: 1.bias; .*\); train again$"):
        load_weights(net, bad, tmp_path / "c.pt", "train again")
    load_weights(net, good, tmp_path / "c.pt", "train again")
