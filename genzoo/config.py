"""Typed configs: dataclasses whose fields are checked where they are built, YAML files and overrides.

Every config (model, dataset, training) subclasses ``Config``. Its ``__post_init__`` checks each field
against its annotation, so ``MADEConfig(hidden="500")``, ``train.lr=abc`` and ``train.max_steps=2.5`` are all
errors that name the key, the value and the type expected. Ranges ride on the annotation:
``batch_size: PositiveInt``, ``ema_decay: Annotated[float, Range(ge=0, lt=1)]``; choices are ``Literal``.
"""
from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml


@dataclass(frozen=True)
class Range:
    """Bounds a numeric field must satisfy (any of >=, >, <=, <)."""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def violated(self, value) -> str | None:
        """The bound ``value`` breaks, as text, or None."""
        for bound, op, ok in (("ge", ">=", lambda b: value >= b), ("gt", ">", lambda b: value > b),
                              ("le", "<=", lambda b: value <= b), ("lt", "<", lambda b: value < b)):
            limit = getattr(self, bound)
            if limit is not None and not ok(limit):
                return f"{op} {limit}"
        return None


PositiveInt = Annotated[int, Range(ge=1)]
NonNegativeInt = Annotated[int, Range(ge=0)]
PositiveFloat = Annotated[float, Range(gt=0)]
NonNegativeFloat = Annotated[float, Range(ge=0)]
UnitInterval = Annotated[float, Range(ge=0, lt=1)]  # decays, momenta


class ConfigError(ValueError):
    """A config value of the wrong type or out of range; the message names the key, value and expectation."""

    def __init__(self, key: str, value: Any, expected: str, where: str = ""):
        self.key, self.value, self.expected = key, value, expected
        place = f"{where}." if where else ""
        super().__init__(f"{place}{key}={value!r}: expected {expected}")


def _describe(hint) -> str:
    """A type annotation in words, for error messages and ``-h``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        base, *extras = args
        bounds = [f"{op} {getattr(r, k)}" for r in extras if isinstance(r, Range)
                  for k, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")) if getattr(r, k) is not None]
        return _describe(base) + (f" {' and '.join(bounds)}" if bounds else "")
    if origin is Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0])}"
        return f"a list of {len(args)} ({', '.join(_describe(a) for a in args)})"
    if hint is type(None):
        return "null"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(hint, str(hint))


YAML_BOOL_WORDS = {False: ("no", "off", "false", "n"), True: ("yes", "on", "true", "y")}


def _literal_word(value: bool, choices: tuple) -> Any:
    """The one string choice that YAML 1.1 read as ``value`` (``mixed_precision: no`` -> "no"), else ``value``."""
    words = [c for c in choices if isinstance(c, str) and c.lower() in YAML_BOOL_WORDS[value]]
    return words[0] if len(words) == 1 and value not in choices else value


def _convert(value, hint):
    """``value`` as ``hint`` wants it, or raise TypeError / ValueError (caught and reworded by the caller)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        base, *extras = args
        value = _convert(value, base)
        for extra in extras:
            if isinstance(extra, Range) and extra.violated(value):
                raise ValueError(extra.violated(value))
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(value, arg)
            except (TypeError, ValueError):
                continue
        raise TypeError
    if origin is Literal:
        if isinstance(value, bool):  # YAML 1.1 reads an unquoted no / off / yes / on as a bool
            value = _literal_word(value, args)
        if value not in args:
            raise ValueError
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError
        kinds = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(kinds) != len(value):
            raise ValueError
        return tuple(_convert(v, k) for v, k in zip(value, kinds))
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError
        return value
    if hint is int:
        # only an int is an integer: not True, and not 3.0 (a float where a count belongs is most often a slip)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
        return value
    if hint is float:
        # PyYAML reads "3e-4" (no dot) as a string: a string that is a number is one
        if isinstance(value, str):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError
        if not math.isfinite(value):
            raise ValueError
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise TypeError
        return value
    if hint is type(None):
        if value is not None:
            raise TypeError
        return None
    return value  # an annotation this checker does not know: left to the config's own checks


class Config:
    """Base of every genzoo config dataclass: fields are checked (and YAML-ish values converted) on build.

    Subclasses that add a ``__post_init__`` call ``super().__post_init__()`` first, then check what relates
    several fields. ``training_only`` names the fields that change how a model trains but neither its weights'
    shapes nor what they compute in eval mode (e.g. dropout): a warm start may change them.
    """

    training_only: typing.ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self):
        hints = typing.get_type_hints(type(self), include_extras=True)
        for field in dataclasses.fields(self):
            value, hint = getattr(self, field.name), hints[field.name]
            try:
                converted = _convert(value, hint)
            except (TypeError, ValueError):
                raise ConfigError(field.name, value, _describe(hint)) from None
            object.__setattr__(self, field.name, converted)


def checked(who: str, name: str, value, hint):
    """One constructor argument checked as a config field would be (the same rules and message), for classes
    built from arguments rather than a config: ``checked("FSQ", "levels", levels, tuple[int, ...])``."""
    try:
        return _convert(value, hint)
    except (TypeError, ValueError):
        raise ConfigError(name, value, _describe(hint), who) from None


def check_section(values: Any, where: str) -> None:
    """A config section must be a mapping of keys to values (or left empty): ``data: [1, 2]`` or ``model=3``
    is a ValueError naming the section and what it holds."""
    if values is not None and not isinstance(values, dict):
        raise ValueError(f"config section {where!r} must be a mapping of keys to values, got "
                         f"{type(values).__name__} {values!r}")


def config_from_dict(cls, values: dict[str, Any], where: str = ""):
    """Build config ``cls`` from ``values``: unknown keys and ill-typed values are errors naming them (keys
    as ``where.key``, e.g. ``train.lr``)."""
    if not isinstance(values, dict):
        raise ValueError(f"{where or cls.__name__}: expected a mapping of keys to values, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in values if k not in fields]
    if unknown:
        place = f" in section {where!r}" if where else ""
        raise ValueError(
            f"unknown config key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}{place}; "
            f"valid keys: {', '.join(fields)}"
        )
    try:
        return cls(**values)
    except ConfigError as exc:
        raise ConfigError(exc.key, exc.value, exc.expected, where) from None


def describe_config(cls, prefix: str = "") -> list[str]:
    """One line per field of config ``cls``: ``prefix.key: type = default`` (what ``-h`` lists)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    lines = []
    for field in dataclasses.fields(cls):
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        shown = default if isinstance(default, str) else json.dumps(_plain(default))
        lines.append(f"  {prefix}{field.name} = {shown}   ({_describe(hints[field.name])})")
    return lines


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def config_to_dict(config) -> dict[str, Any]:
    """A dataclass config as plain JSON-able values (tuples become lists)."""
    return dataclasses.asdict(config)


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """``["train.lr=3e-4", "model.hidden=1000"]`` -> nested dict; values are read as YAML scalars/lists."""
    nested: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form section.key=value")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        if not all(parts):
            raise ValueError(f"override {item!r} has an empty key part")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(raw)
    return nested


def merge(base: dict[str, Any], update: dict[str, Any], path: str = "") -> dict[str, Any]:
    """Recursive merge of ``update`` into a copy of ``base``. Sections that ``base`` lacks are errors."""
    out = dict(base)
    for key, value in update.items():
        here = f"{path}{key}"
        if isinstance(value, dict) and not path and key not in out:
            raise ValueError(f"unknown config section {here!r}; sections: {', '.join(out)}")
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value, path=f"{here}.")
        else:
            out[key] = value
    return out


def load_yaml_config(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """Read a run config (sections ``model``, ``data``, ``train``) and apply command-line overrides."""
    with open(path) as fh:
        config = yaml.safe_load(fh) or {}
    if not isinstance(config, dict):
        raise ValueError(f"{path}: a config file must be a mapping of sections, got {type(config).__name__}")
    return merge(config, parse_overrides(overrides or []))
