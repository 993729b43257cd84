"""Training past one process: ``torchrun`` and DistributedDataParallel, as nanoGPT's ``train.py`` does it.

    torchrun --standalone --nproc_per_node=2 -m cs180utils train nerf --profile cpu        # 2 CPU processes (gloo)
    torchrun --standalone --nproc_per_node=8 -m cs180utils train unet --profile full       # 8 GPUs of one node (NCCL)

``torchrun`` starts N copies of the command and tells each its ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``;
:func:`setup` (called by ``python -m cs180utils``) joins them into one process group: NCCL on GPUs (one per
process, ``cuda:LOCAL_RANK``), gloo on CPUs. Each training then works the way one process would, with three
differences, all here:

- every process draws the same *global* batch (same seeds) and keeps its own contiguous part of it
  (:func:`shard`); the model is wrapped in ``DistributedDataParallel`` (:func:`wrap`), which averages the
  gradients of the parts during ``backward()``. With equal parts the average is the gradient of the global
  batch's mean loss, so N processes train the weights one process would with the same global batch (to float
  rounding; ``tests/test_distributed.py`` checks it). BatchNorm layers see their process's part only, as
  DistributedDataParallel's default is; on GPUs they become ``SyncBatchNorm`` (statistics of the global batch).
- the logged loss is the mean over the processes (:func:`mean_across`), and a time budget ends every process at
  the same step (:func:`any_across`);
- only rank 0 (:func:`is_main`) writes the checkpoint, ``result.json``, the progress bar and the JSON line.

Without ``torchrun`` (``WORLD_SIZE`` unset or 1) every function here is the identity, and nothing changes.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch
import torch.distributed as dist
from torch import nn


def world_size() -> int:
    """How many processes train together (1 without torchrun)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's number, 0 .. world_size() - 1 (0 without torchrun)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    """Whether this process writes files and prints (rank 0, or the only process)."""
    return rank() == 0


def rank_from_env() -> int:
    """The rank torchrun gave this process (``RANK``; 0 without torchrun), also outside the process group."""
    return int(os.environ.get("RANK", "0"))


def launched() -> bool:
    """Whether torchrun started this process as one of several (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup() -> None:
    """Join torchrun's process group (once; nothing without torchrun): NCCL when CUDA is available, else gloo.
    On GPUs each process uses ``cuda:LOCAL_RANK``."""
    if not launched() or dist.is_initialized():
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")


def teardown() -> None:
    """Leave the process group (at the end of the command)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module) -> nn.Module:
    """``model`` in ``DistributedDataParallel`` when several processes train (BatchNorm made ``SyncBatchNorm`` on
    GPUs), else ``model`` itself. Train through what this returns (its ``forward`` averages the gradients);
    evaluate, save and load :func:`unwrap` of it."""
    if world_size() == 1:
        return model
    device = next(model.parameters()).device
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return nn.parallel.DistributedDataParallel(model, device_ids=[device.index])
    return nn.parallel.DistributedDataParallel(model)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a ``DistributedDataParallel`` wrapper (or ``model`` itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def shard(*batch: torch.Tensor) -> tuple[torch.Tensor, ...] | torch.Tensor:
    """This process's contiguous part of each global-batch tensor (along dim 0): rows ``[r B/N, (r + 1) B/N)``
    for rank r of N. Every process must hold the same global batch; B must be a multiple of N (equal parts are
    what makes N processes train like one). One tensor in, one out; several in, a tuple out."""
    n = world_size()
    if n > 1:
        sizes = {len(t) for t in batch}
        if len(sizes) != 1 or next(iter(sizes)) % n:
            raise ValueError(f"a global batch of {sorted(sizes)} rows cannot be split into {n} equal parts: make "
                             f"the batch size (rays or images per step) a multiple of --nproc_per_node {n}")
        size = next(iter(sizes)) // n
        batch = tuple(t[rank() * size:(rank() + 1) * size] for t in batch)
    return batch[0] if len(batch) == 1 else batch


def mean_across(value: torch.Tensor) -> torch.Tensor:
    """The mean of ``value`` over the processes (a copy; ``value`` itself without torchrun)."""
    if world_size() == 1:
        return value
    out = value.detach().clone().float()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / world_size()


def any_across(flag: bool) -> bool:
    """Whether ``flag`` is True in any process: one decision for all (a time budget that ends one ends all)."""
    if world_size() == 1:
        return flag
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    t = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def single_process(what: str) -> None:
    """Refuse to run ``what`` under torchrun with several processes (a training that does not split its batches:
    every process would train the same copy)."""
    if world_size() > 1 or launched():
        raise RuntimeError(f"{what} trains in one process; run it with python -m cs180utils, not torchrun "
                           f"(data-parallel: train resnet | unet | unet-binary | nerf)")


def barrier() -> None:
    """Wait for every process (e.g. until rank 0 has written a file the others read)."""
    if world_size() > 1:
        dist.barrier()


@contextlib.contextmanager
def rank0_first() -> Iterator[None]:
    """Run the block in rank 0 first and in the other processes after it (e.g. finding a dataset: rank 0
    downloads it, the others then find the copy it wrote, instead of racing it for the same file)."""
    if not is_main():
        barrier()
    try:
        yield
    finally:
        if is_main():
            barrier()
