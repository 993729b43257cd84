"""Run profiles, device choice, seeding and the project's paths.

Profiles (``CS180_PROFILE``):

- ``smoke``: every notebook executes in about a minute on 2 CPU cores (CI).
- ``cpu``:   meaningful results on a laptop CPU in minutes.
- ``full``:  the course's hyperparameters; meant for a GPU.

The default is ``full`` when CUDA is available, else ``cpu``.  Notebooks read their numbers from one
parameters cell through :func:`by_profile`.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

PROFILES = ("smoke", "cpu", "full")
PRESETS = ("course",)   # the named presets some experiment's preset table has (beside its profiles; tests/test_config.py)

# repo/                     <- REPO_ROOT (the checkout; notebooks/ and figures/ live here)
#   cs180utils/machinery/config.py    <- this file
REPO_ROOT = Path(__file__).resolve().parents[2]

T = TypeVar("T")


def get_profile(profile: str | None = None) -> str:
    """The run profile: ``profile`` if given, else ``$CS180_PROFILE``, else ``full`` on CUDA / ``cpu``. An unknown
    name raises ``ValueError`` naming where it came from and the profiles there are."""
    env = os.environ.get("CS180_PROFILE")
    name = profile or env or ("full" if torch.cuda.is_available() else "cpu")
    name = name.strip().lower()
    if name not in PROFILES:
        source = (f"CS180_PROFILE={env!r} in the environment: set it to one of them or unset it" if not profile
                  else "pass --profile (or profile=) with one of them")
        raise ValueError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)} ({source})")
    return name


def get_preset(preset: str | None = None) -> str | None:
    """The named preset laid over the profile's (e.g. ``"course"``: the write-up's recipe): ``preset`` if given,
    else ``$CS180_PRESET``, else None (the profile's preset alone). ``"none"`` or ``""`` mean None. A
    ``$CS180_PRESET`` that is none of :data:`PRESETS` raises ``ValueError`` naming the variable and the presets
    there are (a misspelt ``CS180_PRESET=corse`` must not train the profile's recipe instead); a name passed in
    is checked by the experiment, which knows its own presets (``settings.make_config``)."""
    name = preset if preset is not None else os.environ.get("CS180_PRESET")
    name = (name or "").strip().lower()
    if name in ("", "none"):
        return None
    if preset is None and name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}, none (CS180_PRESET="
                         f"{os.environ.get('CS180_PRESET')!r} in the environment: set it to one of them or unset it)")
    return name


def by_profile(profile: str | None = None, **choices: T) -> T:
    """Pick a value by profile: ``by_profile(smoke=50, cpu=2000, full=20000)``.

    A profile left out takes the next larger one given (smoke -> cpu -> full), and when no larger one is given,
    the nearest smaller one: ``by_profile(smoke=1024, cpu=10_000)`` is 10 000 for ``full`` too, and
    ``by_profile(smoke=64)`` is 64 everywhere.
    """
    name = get_profile(profile)
    unknown = sorted(set(choices) - set(PROFILES))
    if unknown:
        raise KeyError(f"unknown profile names {unknown}; the profiles are {list(PROFILES)}")
    if not choices:
        raise KeyError("by_profile needs a value for at least one profile, e.g. by_profile(smoke=1, cpu=10)")
    i = PROFILES.index(name)
    for candidate in PROFILES[i:] + PROFILES[:i][::-1]:
        if candidate in choices:
            return choices[candidate]
    raise AssertionError("unreachable")


DEVICES = ("cpu", "cuda", "cuda:N", "mps")   # what --device accepts (besides "auto")


def pick_device(device: str | None = None) -> torch.device:
    """``device`` if given (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``), else cuda, then mps, then cpu. Any
    other name, or one not available here, raises ``ValueError``/``RuntimeError`` in one line that lists the
    accepted devices."""
    if isinstance(device, torch.device):
        device = str(device)
    if device and device != "auto":
        name = device.strip().lower()
        kind, _, index = name.partition(":")
        if kind not in ("cpu", "cuda", "mps") or (index and (kind != "cuda" or not index.isdigit())):
            raise ValueError(f"unknown device {device!r}: use one of {', '.join(DEVICES)} (--device)")
        dev = torch.device(name)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {device!r} asked for but CUDA is not available here; use --device cpu")
        if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
            raise RuntimeError(f"device {device!r} asked for but this machine has {torch.cuda.device_count()} CUDA "
                               f"device(s) (cuda:0 to cuda:{torch.cuda.device_count() - 1})")
        if dev.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                      and torch.backends.mps.is_available()):
            raise RuntimeError(f"device {device!r} asked for but Apple's MPS is not available here; use --device cpu")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> None:
    """Seed python, numpy and torch (CPU and CUDA). Returns None: a notebook cell that ends with it shows
    nothing (a returned object would be shown as the cell's value); ``torch.Generator().manual_seed(seed)``
    is a generator seeded the same."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def in_checkout(root: Path | None = None) -> bool:
    """True when cs180utils runs from a clone of the workbook (``pyproject.toml`` and ``notebooks/`` beside it),
    False when it was installed (pip, Colab)."""
    root = REPO_ROOT if root is None else root
    return (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir()


def workspace() -> Path:
    """Where ``data/``, ``runs/`` and ``figures/`` go: the clone cs180utils runs from, else the current folder
    (an installed package: on Colab ``/content``, for a notebook downloaded alone its folder)."""
    return REPO_ROOT if in_checkout() else Path.cwd()


def cache_dir() -> Path:
    """The download cache, ``<workspace>/data`` (or ``$CS180_CACHE_DIR``): where ``data fetch`` puts datasets and
    the last folder searched for them (the ``data_dir=`` arguments and ``--data-dir`` name folders searched
    first). :func:`workspace`: the clone, or the current folder when the package is installed."""
    return Path(os.environ.get("CS180_CACHE_DIR") or workspace() / "data")


def figures_dir(sub: str | None = None, create: bool = True) -> Path:
    """Where notebooks and ``make run`` write figures: ``<workspace>/figures`` (or ``$CS180_FIGURES_DIR``),
    made unless ``create`` is False (a reader that only looks)."""
    root = Path(os.environ.get("CS180_FIGURES_DIR") or workspace() / "figures")
    path = root / sub if sub else root
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir(sub: str | None = None) -> Path:
    """Checkpoints and cached training results: ``<workspace>/runs`` (or ``$CS180_RUNS_DIR``); git-ignored."""
    root = Path(os.environ.get("CS180_RUNS_DIR") or workspace() / "runs")
    path = root / sub if sub else root
    path.mkdir(parents=True, exist_ok=True)
    return path


def describe(profile: str | None = None, device: Any = None) -> str:
    """One line for a notebook's first cell: profile, device, torch version, threads. A misspelt
    ``$CS180_PRESET`` is refused here too (:func:`get_preset`), before the notebook trains anything."""
    get_preset()
    return (f"profile={get_profile(profile)} device={pick_device(device)} torch={torch.__version__} "
            f"threads={torch.get_num_threads()}")


def memory_of(device: Any = None) -> int:
    """Bytes of memory a training on ``device`` can use: the GPU's total memory, else the machine's RAM (0 when
    the system does not say)."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda" and torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(dev.index or 0).total_memory)
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def check_fits(estimate: float, what: str, options: str, device: Any = None) -> None:
    """Refuse, before any work, a training whose ``estimate`` (bytes: a lower bound of what one step holds, e.g.
    rays x samples x width x layers x 4) exceeds the memory of ``device`` (:func:`memory_of`), naming the options
    that size it; ``what`` says what the estimate counts. A machine that does not say its memory is not checked."""
    have = memory_of(device)
    if have and estimate > have:
        raise MemoryError(f"{what} needs at least {estimate / 2**30:.1f} GiB a step, more than this machine's "
                          f"{have / 2**30:.1f} GiB ({'GPU' if torch.device(device or 'cpu').type == 'cuda' else 'RAM'}): "
                          f"lower {options}")
