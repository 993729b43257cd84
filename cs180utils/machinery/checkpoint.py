"""Checkpoints that survive interruption: atomic writes, clear errors, resume.

A checkpoint is a ``dict`` saved with ``torch.save``; by convention it holds ``model``, ``optimizer``
(state dicts), ``step`` or ``epoch``, ``config`` (a plain dict) and ``history`` (metric lists).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch


CHECKPOINT = "checkpoint.pt"   # the file name in a run folder (cs180utils.machinery.training.CHECKPOINT)


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated or not a cs180 checkpoint."""


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temp file in the same folder, then rename).

    An interrupted save never leaves a half-written file under ``path``: the previous checkpoint stays.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes files owner-only; a checkpoint is an ordinary file
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:   # no space, no permission, a vanished folder: the previous checkpoint stays
        Path(tmp).unlink(missing_ok=True)
        kept = "the previous checkpoint is kept" if path.is_file() else "no checkpoint was kept"
        raise CheckpointError(f"could not write checkpoint {path} ({exc.strerror or exc}); {kept}. Free some "
                              f"space or pass another --out, then run the same command again") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (or the ``checkpoint.pt`` of a run folder), with an
    error that says what to do: missing, unreadable, not a checkpoint dict, or holding non-finite weights."""
    path = Path(path)
    if path.is_dir():   # a run folder: its checkpoint
        if not (path / CHECKPOINT).is_file():
            raise CheckpointError(f"{path} is a folder without a {CHECKPOINT}: pass the checkpoint file (or the run "
                                  f"folder) that the training's JSON line names")
        path = path / CHECKPOINT
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist: train first (python -m cs180utils train ...) "
                              f"or pass the path printed in the training's JSON line")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # truncated / not a torch file
        raise CheckpointError(f"checkpoint {path} is unreadable ({type(exc).__name__}: {exc}); "
                              f"delete it and train again") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a cs180 checkpoint dict")
    weights = state.get("model")
    if isinstance(weights, dict):
        bad = [k for k, v in weights.items() if torch.is_tensor(v) and v.is_floating_point()
               and not torch.isfinite(v).all()]
        if bad:
            raise CheckpointError(f"checkpoint {path} holds non-finite weights (NaN or inf in {bad[0]}"
                                  + (f" and {len(bad) - 1} more" if len(bad) > 1 else "")
                                  + "): the training diverged; delete it and train again with a lower --lr")
    return state


def weights_mismatch(module: torch.nn.Module, weights: Any) -> str | None:
    """What keeps ``weights`` (a state dict) from loading into ``module``, in a few words naming a few keys
    (missing ones, unexpected ones, other shapes); None when they fit."""
    if not isinstance(weights, dict):
        return f"its weights are a {type(weights).__name__}, not a state dict"
    own = module.state_dict()
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    shapes = [f"{k} {tuple(weights[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
              if k in weights and torch.is_tensor(weights[k]) and weights[k].shape != v.shape]

    def few(keys: list[str]) -> str:
        return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
    parts = [f"{what}: {few(keys)}" for what, keys in (("missing", missing), ("unexpected", unexpected),
                                                        ("other shapes (saved vs model)", shapes)) if keys]
    return "; ".join(parts) or None


def load_weights(module: torch.nn.Module, weights: Any, path: str | os.PathLike, fix: str) -> None:
    """``module.load_state_dict(weights)``; weights that do not fit raise :class:`CheckpointError` in one line
    naming the checkpoint ``path``, a few missing / unexpected / reshaped keys and what to do (``fix``)."""
    why = weights_mismatch(module, weights)
    if why is None:
        try:
            module.load_state_dict(weights)
            return
        except (RuntimeError, KeyError, TypeError) as exc:
            why = str(exc).strip().splitlines()[-1].strip() or type(exc).__name__
    raise CheckpointError(f"checkpoint {path} does not fit the model its settings build ({why}); {fix}")
