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
                preset: str | None = None, **overrides: Any) -> C:
    """``cls`` with its defaults, then the profile's entry of ``presets``, then its named ``preset``'s entry
    (``"course"``; default: ``$CS180_PRESET`` where the table has it, see :func:`active_preset`; ``"none"``: none),
    then ``overrides`` (UNSET ones dropped). One table holds both kinds of entry::

        PRESETS = {"smoke": {...}, "cpu": {...}, "full": {...}, "course": {...}}

    An unknown field name raises ``ValueError`` listing the known ones; an unknown preset name one listing the
    presets there are. With ``CS180_CAPPED=1`` the lengths of training are then capped
    (:mod:`cs180utils.machinery.capped`), overrides included.
    """
    table = presets or {}
    profiles = {k: v for k, v in table.items() if k in _config.PROFILES}
    values = preset_for(profiles, profile) if profiles else {}
    name = active_preset(table, preset)
    if name is not None:
        if name not in named_presets(table):
            known = ", ".join(named_presets(table)) or "none"
            raise ValueError(f"{cls.__name__} has no preset {name!r}; its presets: {known} (or 'none' for the "
                             f"profile's alone)")
        values.update(table[name])
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


# ---- the one table of presets: profiles and named presets side by side ---------------------------------------

def active_preset(table: Mapping[str, Mapping[str, Any]] | None, preset: str | None = None) -> str | None:
    """The named preset to lay over the profile's: ``preset`` if given (``"none"``: no preset), else
    ``$CS180_PRESET`` (:func:`cs180utils.machinery.config.get_preset`) when ``table`` has a preset of that name (an
    experiment without it keeps its profile's preset, so one environment setting serves every notebook), else None."""
    if preset is not None:
        return _config.get_preset(preset)
    name = _config.get_preset()
    return name if name in (table or {}) and name not in _config.PROFILES else None


def named_presets(table: Mapping[str, Mapping[str, Any]] | None) -> tuple[str, ...]:
    """The named presets of a preset table: its keys that are not profiles (``("course",)`` or ``()``)."""
    return tuple(k for k in (table or {}) if k not in _config.PROFILES)


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


# ---- a config's own checks, and its command-line options, from its fields ---------------------------------------

class SettingError(ValueError):
    """A setting out of its range: ``field`` names it (the command line names its option instead)."""

    def __init__(self, field: str, message: str, text: str | None = None):
        super().__init__(text or f"{field} {message}")
        self.field, self.message = field, message


def check(cfg: Any, positive: Iterable[str] = (), nonnegative: Iterable[str] = (),
          fraction: Iterable[str] = ()) -> None:
    """Refuse a config's values out of range, for a dataclass's ``__post_init__``: every ``Literal[...]`` field
    must hold one of its values; ``positive`` numbers must be above 0 (whole numbers: at least 1), ``nonnegative``
    ones 0 or more, ``fraction`` ones in [0, 1]; every number finite. ``None`` passes where the field's type allows
    it. Raises :class:`SettingError` naming the field."""
    hints = _hints(type(cfg))
    for f in dataclasses.fields(cfg):
        allowed = _literal(hints.get(f.name))
        value = getattr(cfg, f.name)
        if allowed and value not in allowed and not (value is None and _optional(hints.get(f.name))):
            choices = ", ".join(map(str, allowed))
            raise SettingError(f.name, f"must be one of {choices}, got {value!r}",
                               f"unknown {f.name} {value!r}: use one of {choices}")
    for rule, names in (("positive", positive), ("nonnegative", nonnegative), ("fraction", fraction)):
        for name in names:
            value = getattr(cfg, name)
            for v in (value if isinstance(value, (tuple, list)) else (value,)):
                if v is None or isinstance(v, bool):
                    continue
                if v != v or v in (float("inf"), float("-inf")):
                    raise SettingError(name, f"must be a finite number, got {value!r}")
                whole = isinstance(v, int)
                if rule == "positive" and not v > 0:
                    raise SettingError(name, f"must be {'at least 1' if whole else 'above 0'}, got {value!r}")
                if rule == "nonnegative" and v < 0:
                    raise SettingError(name, f"must be 0 or more, got {value!r}")
                if rule == "fraction" and not 0 <= v <= 1:
                    raise SettingError(name, f"must be between 0 and 1, got {value!r}")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _options_of(hint: Any) -> tuple:
    return typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)


def _optional(hint: Any) -> bool:
    return type(None) in _options_of(hint)


def _literal(hint: Any) -> tuple:
    for t in _options_of(hint):
        if typing.get_origin(t) is typing.Literal:
            return typing.get_args(t)
    return ()


def field_docs(cls: type) -> dict[str, str]:
    """``{field: its comment}`` from the dataclass's source: the comment on a field's line, and the comment-only
    lines under it (a comment that goes on). What the command line's help shows."""
    import inspect  # noqa: PLC0415
    import io  # noqa: PLC0415
    import tokenize  # noqa: PLC0415

    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    names = {f.name for f in dataclasses.fields(cls)}
    docs: dict[str, list[str]] = {}
    current, code_on_line = None, {}
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.NAME and tok.start[1] > 0 and tok.string in names and tok.start[0] not in code_on_line \
                and i + 1 < len(tokens) and tokens[i + 1].string == ":":
            current = tok.string
            docs[current] = []
        if tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            code_on_line.setdefault(tok.start[0], tok.string)
        elif tok.type == tokenize.COMMENT and current is not None:
            text = tok.string.lstrip("#").strip()
            first = code_on_line.get(tok.start[0])
            if first is None and not docs[current]:
                continue   # a comment line above a field belongs to no field
            if first is not None and first in names and first != current:
                continue
            docs[current].append(text)
        if tok.type == tokenize.NAME and tok.string == "def":
            break
    return {k: " ".join(v).strip() for k, v in docs.items() if v}


def option_name(field: str, rename: Mapping[str, str] | None = None) -> str:
    """``--crop-size`` for ``crop_size`` (``rename`` maps a field to another option name, e.g. ``n_samples`` to
    ``samples``)."""
    return "--" + (rename or {}).get(field, field).replace("_", "-")


_NONE_WORDS = ("none", "off")


def _parse(hint: Any, field: str):
    """An argparse type for a field of type ``hint``: a number, text, or a comma-separated tuple; ``none`` / ``off``
    for None where the type allows it. Ranges are the config's own (:func:`check`)."""
    import argparse  # noqa: PLC0415

    optional = _optional(hint)
    kinds = [t for t in _options_of(hint) if t is not type(None)]
    kind = kinds[0] if kinds else str

    def one(text: str, k: Any):
        if k is int:
            return int(text)
        if k is float:
            value = float(text)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(text)
            return value
        return text

    def parse(text: str):
        if optional and text.strip().lower() in _NONE_WORDS:
            return None
        try:
            if kind is tuple or typing.get_origin(kind) is tuple:
                args = typing.get_args(kind)
                parts = [p for p in text.split(",") if p.strip()]
                inner = args[0] if args else str
                if args and args[-1] is not Ellipsis:
                    if len(parts) != len(args):
                        raise argparse.ArgumentTypeError(f"needs {len(args)} comma-separated values, got {text!r}")
                    return tuple(one(p, a) for p, a in zip(parts, args))
                return tuple(one(p, inner) for p in parts)
            return one(text, kind)
        except ValueError:
            what = {int: "a whole number", float: "a finite number"}.get(kind, "comma-separated numbers")
            alt = " or 'none'" if optional else ""
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}{alt}") from None
    parse.__name__ = field
    return parse


def add_options(parser: Any, cls: type, skip: Iterable[str] = (), rename: Mapping[str, str] | None = None,
                title: str | None = None) -> dict[str, str]:
    """Add a command-line option for every field of dataclass ``cls`` (those in ``skip`` and nested configs left
    out): ``--field-name`` typed by the field's annotation (bool: ``--x/--no-x``; ``Literal``: its choices;
    ``X | None``: ``none`` too; tuples: comma-separated), its help the field's comment (:func:`field_docs`), its
    default UNSET (left out: the preset's value stays). Returns ``{field: option}``, also kept on the parser for
    :func:`from_args` and for naming the option in an error."""
    import argparse  # noqa: PLC0415

    hints, docs = _hints(cls), field_docs(cls)
    group = parser.add_argument_group(title or cls.__name__) if title is not False else parser
    added = {}
    for f in dataclasses.fields(cls):
        hint = hints.get(f.name)
        if f.name in set(skip) or any(dataclasses.is_dataclass(t) for t in _options_of(hint)):
            continue
        option = option_name(f.name, rename)
        help_ = (docs.get(f.name, "") + " (default: the profile's preset)").strip()
        help_ = help_.replace("%", "%%")
        kinds = [t for t in _options_of(hint) if t is not type(None)]
        if kinds == [bool]:
            group.add_argument(option, dest=f.name, action=argparse.BooleanOptionalAction, default=UNSET, help=help_)
        elif _literal(hint):
            choices = tuple(_literal(hint)) + (("none",) if _optional(hint) else ())
            group.add_argument(option, dest=f.name, choices=choices, default=UNSET, help=help_)
        else:
            kind = kinds[0] if kinds else str
            metavar = ({int: "N", float: "X"}.get(kind) or
                       ("A,B" if kind is tuple or typing.get_origin(kind) is tuple else "TEXT"))
            group.add_argument(option, dest=f.name, type=_parse(hint, f.name), default=UNSET, help=help_,
                               metavar=metavar + ("|none" if _optional(hint) else ""))
        added[f.name] = option
    known = getattr(parser, "cs180_options", {})
    parser.cs180_options = {**known, **added}
    return added


def from_args(args: Any, cls: type) -> dict[str, Any]:
    """``{field: value}`` of every option :func:`add_options` made for ``cls`` (UNSET where not given); a
    ``Literal`` choice ``none`` is None."""
    hints, out = _hints(cls), {}
    for f in dataclasses.fields(cls):
        if hasattr(args, f.name):
            value = getattr(args, f.name)
            out[f.name] = None if value == "none" and _literal(hints.get(f.name)) else value
    return out


def option_words(field: str, value: Any, rename: Mapping[str, str] | None = None) -> list[str]:
    """The command-line words that set ``field`` to ``value`` (what :func:`add_options` parses back):
    ``["--no-pretrained"]``, ``["--window", "none"]``, ``["--widths", "16,32,64"]``, ``["--lr", "0.002"]``."""
    option = option_name(field, rename)
    if isinstance(value, bool):
        return [option if value else "--no-" + option[2:]]
    if value is None:
        return [option, "none"]
    if isinstance(value, (tuple, list)):
        return [option, ",".join(str(v) for v in value)]
    return [option, repr(value) if isinstance(value, float) else str(value)]
