"""The capped full profile: every full-profile code path, at the full profile's sizes, for a couple of steps.

    CS180_PROFILE=full CS180_CAPPED=1 python -m cs180utils.machinery.workbook run        (what `make test` runs last)

With ``CS180_CAPPED=1`` the full profile keeps its image sizes, model widths, batch sizes, sample counts and
video sizes, but every setting that says *how long* is capped, so that CI executes on 2 CPU cores each code path
a GPU run takes, and a crash there fails CI. The cap is one rule by setting NAME, not a list of experiments, so a
preset or a notebook parameter added later is capped without this file knowing it:

- NeRF scenes keep two validation views (:func:`cap_scene`, applied when a scene file is read);
- config fields (:data:`FIELD_CAPS`, applied by :func:`cs180utils.machinery.settings.make_config` and
  :func:`cs180utils.machinery.settings.replace`, nested configs included): ``steps``, ``epochs``, validation and
  checkpoint intervals, validation views, training / validation set sizes, occupancy warm-up;
- a notebook's parameters (:data:`NAME_CAPS`, applied by the cell ``make run --capped`` inserts after the
  ``parameters`` cell): every UPPER_CASE name ending in ``STEPS``, ``EPOCHS`` or ``FRAMES`` (video frame
  counts are capped to one frame: a 400x400 frame of the course's NeRF is minutes on a CPU), and every config
  dataclass among them;
- a side study's parameters (:data:`STUDY`: names starting ``SWEEP_`` or ``COMPARE_``, a sweep or comparison
  beside the notebook's main training, whose models nothing later needs): their step and epoch counts to one,
  and a tuple or list of the settings they compare to its first one (each setting runs the same code; CI's
  capped run spent 10 of its 29 minutes in notebook 03's two comparison runs and 08's three sigma models).

Numbers that say how well a model must do (``assert psnr > ...``) cannot hold after two steps: the capped run
executes the notebooks with Python's asserts off (``PYTHONOPTIMIZE``); the smoke run checks them.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Callable, Mapping

ENV = "CS180_CAPPED"
STEPS = 2        # optimizer steps (and epochs) of every capped training


def active() -> bool:
    """Whether the cap is on (``CS180_CAPPED`` set to 1 / true / yes)."""
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _at_most(limit: int) -> Callable[[Any, Mapping[str, Any]], Any]:
    """A rule: the value, but at most ``limit``; None ("all", "no limit") becomes ``limit``."""
    return lambda value, values: limit if value is None else min(value, limit)


def _one_batch(value: Any, values: Mapping[str, Any]) -> Any:
    """A data-set size: one batch (of the config's own ``batch_size``), so the batches keep their full size."""
    batch = int(values.get("batch_size") or STEPS)
    return batch if value is None else min(value, batch)


# config field name -> rule(value, the config's values) -> capped value. A field that is not a number (e.g. a
# tuple of snapshot steps) is left alone.
FIELD_CAPS: dict[str, Callable[[Any, Mapping[str, Any]], Any]] = {
    "steps": _at_most(STEPS),
    "epochs": _at_most(STEPS),
    "eval_every": _at_most(STEPS),       # one evaluation, at the end: a full-size NeRF validation is a minute on a CPU
    "checkpoint_every": _at_most(1),
    "log_every": _at_most(1),
    "val_views": _at_most(1),
    "max_train": _one_batch,
    "max_val": _one_batch,
    "occupancy_warmup": _at_most(1),
    "occupancy_every": _at_most(1),
}

# a side study's notebook parameters: SWEEP_SIGMAS = (1.0, 2.0, 4.0), COMPARE_STEPS = 1000, ...
STUDY = re.compile(r"^(SWEEP|COMPARE)_")
STUDY_STEPS = 1  # steps (and epochs) of each run of a capped side study

# notebook parameter names (UPPER_CASE) -> capped value (the first pattern that matches)
NAME_CAPS: list[tuple[re.Pattern, int]] = [
    (re.compile(r"^(SWEEP|COMPARE)_[A-Z0-9_]*(STEPS|EPOCHS)$"), STUDY_STEPS),
    (re.compile(r"^[A-Z0-9_]*(STEPS|EPOCHS)$"), STEPS),
    (re.compile(r"^[A-Z0-9_]*FRAMES$"), 1),
]


def _is_count(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def cap_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (a config's fields by name) with :data:`FIELD_CAPS` applied to the counts among them."""
    out = dict(values)
    for name, rule in FIELD_CAPS.items():
        if name in out and _is_count(out[name]):
            out[name] = rule(out[name], out)
    return out


def cap_config(cfg: Any) -> Any:
    """A copy of the dataclass ``cfg`` with :data:`FIELD_CAPS` applied, nested configs included (``cfg`` itself
    when nothing changes)."""
    if not (dataclasses.is_dataclass(cfg) and not isinstance(cfg, type)):
        return cfg
    names = [f.name for f in dataclasses.fields(cfg) if f.init]
    now = {n: getattr(cfg, n) for n in names}
    capped = cap_values(now)
    for n in names:
        if dataclasses.is_dataclass(now[n]) and not isinstance(now[n], type):
            capped[n] = cap_config(now[n])
    changed = {n: v for n, v in capped.items() if v is not now[n] and v != now[n]}
    return dataclasses.replace(cfg, **changed) if changed else cfg


def cap_name(name: str, value: Any) -> Any:
    """A notebook parameter under :data:`NAME_CAPS` (counts only), a side study's tuple or list of settings
    (:data:`STUDY`) cut to its first, or a config dataclass under :func:`cap_config`; anything else as it is."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return cap_config(value)
    if STUDY.match(name) and isinstance(value, (tuple, list)) and len(value) > 1:
        return type(value)(value[:1])
    for pattern, limit in NAME_CAPS:
        if pattern.match(name) and isinstance(value, int) and not isinstance(value, bool):
            return min(value, limit)
    return value


def cap_namespace(namespace: dict) -> dict[str, tuple[Any, Any]]:
    """Cap a notebook's parameters in place (its UPPER_CASE globals); returns ``{name: (before, after)}`` of the
    ones that changed. Does nothing unless :func:`active`."""
    if not active():
        return {}
    changed = {}
    for name, value in list(namespace.items()):
        if not name.isupper() or name.startswith("_"):
            continue
        new = cap_name(name, value)
        if new is not value and new != value:
            namespace[name] = new
            changed[name] = (value, new)
    return changed


VAL_VIEWS = 1    # validation views a capped NeRF scene keeps (a full-size render of the course's NeRF is a minute on 2 cores)


def cap_scene(scene: Any) -> Any:
    """A NeRF scene (:class:`cs180utils.nerf.scene.Scene`) with only its first :data:`VAL_VIEWS` validation
    views: a validation image of the course's NeRF at 200x200 takes tens of seconds on a CPU. Training images
    stay (steps draw rays from all of them)."""
    cut = {n: getattr(scene, n)[:VAL_VIEWS] for n in ("images_val", "c2ws_val", "depth_val")
           if getattr(scene, n, None) is not None}
    return dataclasses.replace(scene, **cut)


# The cell `make run --capped` inserts after a notebook's `parameters` cell (papermill's tag for it).
INJECTED_TAG = "injected-parameters"
INJECTED_SOURCE = ("# capped full profile (CS180_CAPPED=1): sizes as in the full profile, a couple of steps each\n"
                   "from cs180utils.machinery import capped as _capped\n"
                   "for _k, (_a, _b) in _capped.cap_namespace(globals()).items():\n"
                   "    print(f'capped {_k}: {_a!r} -> {_b!r}')")
