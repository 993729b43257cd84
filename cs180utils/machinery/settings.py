"""One way to make an experiment's settings: a dataclass, its presets per profile, and overrides.

    cfg = make_config(NerfConfig, PRESETS, "cpu", steps=500, max_seconds=None)

- Every experiment is one ``@dataclass`` config with a comment per field; its ``PRESETS`` table gives, per
  profile (smoke / cpu / full), the fields that differ from the dataclass defaults.
- Overrides are taken as given, ``None`` included (``max_seconds=None`` means "no time cap", ``window=None``
  "the whole map"), except :data:`UNSET`, which means "not given: keep the preset's value". The command line
  uses ``UNSET`` as every option's default, so an option left out never overrides anything.
- :func:`config_dict` turns a config into plain JSON values (what checkpoints store and run folders hash);
  :func:`from_dict` turns it back; :func:`differences` names the settings in which two configs differ.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Iterable, Mapping, TypeVar

from cs180utils.machinery import capped as _capped
from cs180utils.machinery import config as _config

C = TypeVar("C")


class _Unset:
    """The type of :data:`UNSET`."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self):
        return (_Unset, ())


UNSET: Any = _Unset()
"""An override that was not given (a command-line option left out): the preset's value stays."""


def given(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` without the :data:`UNSET` ones."""
    return {k: v for k, v in overrides.items() if v is not UNSET}


def preset_for(presets: Mapping[str, Mapping[str, Any]], profile: str | None = None) -> dict[str, Any]:
    """The preset of ``profile`` (default: the active one) from a table keyed by profile, with
    :func:`cs180utils.machinery.config.by_profile`'s rule for a profile the table leaves out."""
    return dict(_config.by_profile(profile, **presets))


def make_config(cls: type[C], presets: Mapping[str, Mapping[str, Any]] | None = None, profile: str | None = None,
                **overrides: Any) -> C:
    """``cls`` with its defaults, then the profile's preset, then ``overrides`` (UNSET ones dropped).

    An unknown field name raises ``ValueError`` listing the known ones. With ``CS180_CAPPED=1`` the lengths of
    training are then capped (:mod:`cs180utils.machinery.capped`), overrides included.
    """
    values = preset_for(presets, profile) if presets else {}
    values.update(given(overrides))
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} settings {unknown}; the settings are: {', '.join(names)}")
    cfg = cls(**values)
    return _capped.cap_config(cfg) if _capped.active() else cfg


def replace(cfg: C, **overrides: Any) -> C:
    """A copy of ``cfg`` with ``overrides`` (UNSET ones dropped; unknown names raise ``ValueError``; capped
    like :func:`make_config` with ``CS180_CAPPED=1``)."""
    names = {f.name for f in dataclasses.fields(cfg)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown {type(cfg).__name__} settings {unknown}; the settings are: {', '.join(sorted(names))}")
    out = dataclasses.replace(cfg, **given(overrides))
    return _capped.cap_config(out) if _capped.active() else out


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return config_dict(value)
    return value


def config_dict(cfg: Any) -> dict[str, Any]:
    """The config as plain JSON values (tuples become lists), field order kept. A whole number in a field typed
    ``float`` is written as a float (``max_seconds=480`` from a notebook and ``--max-seconds 480``, which argparse
    makes 480.0, are one setting: one run folder, one identity)."""
    return {f.name: _plain(_as_declared(f, getattr(cfg, f.name))) for f in dataclasses.fields(cfg)}


def _as_declared(f: dataclasses.Field, value: Any) -> Any:
    declared = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if declared in ("float", "float | None", "Optional[float]") and isinstance(value, int) \
            and not isinstance(value, bool):
        return float(value)
    return value


def _restore(value: Any, hint: Any) -> Any:
    """Lists back to tuples where the field's type is a tuple (``tuple[int, ...]``, ``tuple | None``...), and
    dicts back to configs where it is a dataclass (``FastFieldConfig | None``)."""
    if not isinstance(value, (list, dict)):
        return value
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    if isinstance(value, dict):
        inner = [t for t in options if dataclasses.is_dataclass(t) and isinstance(t, type)]
        return from_dict(inner[0], value) if inner else value
    for t in options:
        if t is tuple or typing.get_origin(t) is tuple:
            args = typing.get_args(t)
            inner = args[0] if args else Any
            return tuple(_restore(v, inner) for v in value)
    return value


def from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
    """The config ``cls`` from :func:`config_dict`'s output; keys that are not fields are ignored (older or newer
    checkpoints), missing ones keep the dataclass defaults. A field whose type is a dataclass (a nested config)
    is restored the same way."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: _restore(v, hints.get(k)) for k, v in values.items() if k in names})


def differences(saved: Mapping[str, Any], now: Mapping[str, Any], ignore: Iterable[str] = ()) -> dict[str, tuple]:
    """``{setting: (saved value, value now)}`` for every setting that differs, ``ignore``'d ones left out."""
    skip = set(ignore)
    keys = [k for k in dict.fromkeys([*saved, *now]) if k not in skip]
    return {k: (saved.get(k), now.get(k)) for k in keys if _plain(saved.get(k)) != _plain(now.get(k))}


def describe_differences(diff: Mapping[str, tuple]) -> str:
    """``"lr: 0.001 (saved) vs 0.01 (now); steps: ..."``."""
    return "; ".join(f"{k}: {a!r} (saved) vs {b!r} (now)" for k, (a, b) in diff.items())


# ---- named presets: an overlay between the profile's preset and the overrides ---------------------------------

def active_preset(named: Mapping[str, Mapping[str, Any]] | None, preset: str | None = None) -> str | None:
    """The named preset to lay over the profile's: ``preset`` if given (``"none"``: no preset), else
    ``$CS180_PRESET`` (:func:`cs180utils.machinery.config.get_preset`) when ``named`` has a preset of that name (an
    experiment without it keeps its profile's preset, so one environment setting serves every notebook), else None."""
    if preset is not None:
        return _config.get_preset(preset)
    name = _config.get_preset()
    return name if name in (named or {}) else None


def named_preset(named: Mapping[str, Mapping[str, Any]] | None, name: str | None,
                 what: str = "this experiment") -> dict[str, Any]:
    """The settings of preset ``name`` in ``named`` (``{"course": {...}}``); ``{}`` for None. An unknown name
    raises ``ValueError`` naming the presets there are."""
    if name is None:
        return {}
    if name not in (named or {}):
        known = ", ".join(named or {}) or "none"
        raise ValueError(f"{what} has no preset {name!r}; its presets: {known} (or 'none' for the profile's alone)")
    return dict(named[name])


def make_preset_config(cls: type[C], presets: Mapping[str, Mapping[str, Any]] | None = None,
                       profile: str | None = None, named: Mapping[str, Mapping[str, Any]] | None = None,
                       preset: str | None = None, **overrides: Any) -> C:
    """:func:`make_config` with a named preset laid between the profile's preset and the overrides:
    ``cls``'s defaults -> the profile's preset -> ``named[preset]`` (see :func:`active_preset`) -> ``overrides``
    (UNSET ones dropped)."""
    layer = named_preset(named, active_preset(named, preset), cls.__name__)
    return make_config(cls, presets, profile, **{**layer, **given(overrides)})


def deviations(reference: Any, cfg: Any, why: Mapping[str, str],
               ignore: Iterable[str] = ()) -> list[tuple[str, Any, Any, str]]:
    """Where config ``cfg`` departs from config ``reference`` (e.g. the course's recipe), from
    :func:`differences` of the two: rows ``(setting, reference's value, cfg's value, why[setting])``, the
    ``ignore``'d settings left out; a setting ``why`` has no reason for reads ``"no reason recorded"``."""
    diff = differences(config_dict(reference), config_dict(cfg), ignore)
    return [(k, a, b, why.get(k, "no reason recorded")) for k, (a, b) in diff.items()]


def deviation_table(rows: Iterable[tuple[str, Any, Any, str]], names: tuple[str, str] = ("course", "here")) -> str:
    """:func:`deviations`' rows as aligned text: setting, the two values, why; "(none)" when there are none."""
    rows = [(k, repr(a), repr(b), w) for k, a, b, w in rows]
    if not rows:
        return f"(none: {names[1]} is {names[0]}'s recipe)"
    header = ("setting", names[0], names[1], "why")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3] for r in [header, *rows])
