"""Dataset registry: a dataset is a config dataclass registered under a name, whose ``load`` builds a split.

    data:                    # a run config's data section
      name: binarized_mnist  # the registered name
      binarization: static   # the options of that dataset alone

A new dataset is one file with one ``@register_dataset`` class; the loop, the results command and the sample
command only ever call ``dataset_from_dict``, ``load`` and ``describe``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from genzoo.config import Config, config_from_dict

_DATASETS: dict[str, type] = {}
SPLITS = ("train", "valid", "test")


class DatasetConfig(Config):
    """Base of every registered dataset; subclasses are dataclasses of that dataset's options."""

    name: ClassVar[str]  # set by @register_dataset

    def load(self, split: str, seed: int = 0):
        """Split ``train`` / ``valid`` / ``test`` as an in-memory split; ``seed`` drives per-run randomness
        (e.g. the redraws of dynamic binarization)."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short name for results tables."""
        return self.name

    def to_dict(self) -> dict[str, Any]:
        """The config as the data section that rebuilds it (stored in checkpoint metadata)."""
        return {"name": self.name, **dataclasses.asdict(self)}

    def with_root(self, root: str | None) -> "DatasetConfig":
        """The same dataset read from another data root (a no-op for datasets without files)."""
        has_root = any(f.name == "root" for f in dataclasses.fields(self))
        return dataclasses.replace(self, root=root) if has_root and root is not None else self


def register_dataset(name: str):
    """Class decorator: register dataset config ``cls`` (a ``DatasetConfig`` dataclass) under ``name``."""

    def decorator(cls):
        if name in _DATASETS:
            raise ValueError(f"dataset name {name!r} is already registered to {_DATASETS[name].__qualname__}")
        if not (isinstance(cls, type) and issubclass(cls, DatasetConfig) and dataclasses.is_dataclass(cls)):
            raise TypeError(f"{cls!r} must be a DatasetConfig dataclass to be registered")
        cls.name = name
        _DATASETS[name] = cls
        return cls

    return decorator


def list_datasets() -> list[str]:
    return sorted(_DATASETS)


def get_dataset_class(name: str) -> type:
    if name not in _DATASETS:
        raise ValueError(f"unknown dataset {name!r}; datasets: {', '.join(list_datasets())}")
    return _DATASETS[name]


def dataset_from_dict(section: dict[str, Any] | None, where: str = "data") -> DatasetConfig:
    """``{"name": ..., **options}`` -> that dataset's config; unknown names, keys and ill-typed values are errors."""
    section = dict(section or {})
    name = section.pop("name", "binarized_mnist")
    if not isinstance(name, str):
        raise ValueError(f"{where}.name={name!r}: expected a dataset name ({', '.join(list_datasets())})")
    return config_from_dict(get_dataset_class(name), section, where=where)


def check_split_name(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; splits: {', '.join(SPLITS)}")
