"""Model registry in the style of timm: ``@register_model``, ``create_model``, ``list_models``.

A registered architecture is an ``nn.Module`` class built from one config dataclass. The registry maps the
architecture name to that class; the class carries its config type as ``config_class``.
"""
from __future__ import annotations

import difflib
import fnmatch
from pathlib import Path

from genzoo.config import config_from_dict

_MODELS: dict[str, type] = {}

#: Where shipped pretrained weights live: ``genzoo/checkpoints/<name>.safetensors``, package data that a
#: normal (non-editable) install carries along.
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"


def register_model(name: str):
    """Class decorator: register ``cls`` (which has a ``config_class`` dataclass) under ``name``."""

    def decorator(cls):
        if name in _MODELS:
            raise ValueError(f"model name {name!r} is already registered to {_MODELS[name].__qualname__}")
        from genzoo.config import Config

        if not (isinstance(getattr(cls, "config_class", None), type) and issubclass(cls.config_class, Config)):
            raise TypeError(f"{cls.__qualname__} needs a `config_class` (a genzoo.config.Config dataclass) "
                            "to be registered")
        cls.architecture = name
        _MODELS[name] = cls
        return cls

    return decorator


def _unknown(kind: str, name: str, known: list[str]) -> Exception:
    if not isinstance(name, str):
        return TypeError(f"expected a {kind} name (a str such as {sorted(known)[0]!r}), got {type(name).__name__} "
                         f"{name!r}")
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return ValueError(f"unknown {kind} {name!r}.{hint} Known: {', '.join(sorted(known)) or '(none)'}")


def get_model_class(name: str) -> type:
    """The registered class for architecture ``name``; an unknown name lists the closest registered ones."""
    _ensure_models_imported()
    if name not in _MODELS:
        raise _unknown("model", name, list(_MODELS))
    return _MODELS[name]


def create_model(name: str, **overrides):
    """Build architecture ``name`` from its default config with ``overrides`` (unknown keys are an error)."""
    cls = get_model_class(name)
    config = config_from_dict(cls.config_class, overrides, where="model")
    return cls(config)


def list_models(pattern: str = "*") -> list[str]:
    """Registered architecture names matching an fnmatch ``pattern``, sorted."""
    _ensure_models_imported()
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def list_pretrained(pattern: str = "*") -> list[str]:
    """Names of the shipped checkpoints (``genzoo/checkpoints/*.safetensors``) matching ``pattern``, sorted."""
    names = (p.stem for p in CHECKPOINT_DIR.glob("*.safetensors"))
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern))


def resolve_pretrained(name_or_path: str | Path) -> Path:
    """A shipped checkpoint name, a path to a ``.safetensors`` file or a Hugging Face folder -> that path."""
    path = Path(name_or_path)
    if path.suffix == ".safetensors" or path.exists():
        if path.is_dir() and not (path / "model.safetensors").is_file():
            raise FileNotFoundError(f"{path} is a folder without model.safetensors (the Hugging Face layout)")
        if not path.exists():
            raise FileNotFoundError(f"checkpoint file not found: {path}")
        return path
    shipped = CHECKPOINT_DIR / f"{name_or_path}.safetensors"
    if shipped.is_file():
        return shipped
    raise _unknown("pretrained model", str(name_or_path), list_pretrained())


def _ensure_models_imported() -> None:
    # Registration happens at import of the model modules; importing the package here keeps
    # `genzoo.registry` usable on its own without an import cycle.
    import genzoo.models  # noqa: F401
