"""Config dataclasses from YAML files and ``section.key=value`` overrides; unknown keys are errors."""
from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import yaml


def config_from_dict(cls, values: dict[str, Any], where: str = ""):
    """Build dataclass ``cls`` from ``values``; a key that is not a field raises a ValueError naming it."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in values if k not in fields]
    if unknown:
        place = f" in {where}" if where else ""
        raise ValueError(
            f"unknown config key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}{place}; "
            f"valid keys: {', '.join(fields)}"
        )
    hints = typing.get_type_hints(cls)
    coerced = {k: _coerce(v, hints.get(k)) for k, v in values.items()}
    return cls(**coerced)


def _coerce(value, hint):
    # YAML gives lists where configs hold tuples, and ints where floats are declared (``lr: 1`` or ``1e-3``
    # written as ``0.001`` both arrive fine, but ``3e-4`` is a *string* to PyYAML's YAML 1.1 resolver).
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is float or (origin is typing.Union and float in args):
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    return value


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
