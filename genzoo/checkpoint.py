"""One checkpoint format for every model: a ``.safetensors`` file whose metadata rebuilds the model.

Metadata (all strings, JSON where structured): ``format`` = "genzoo", ``architecture``, ``config``,
``dataset``, ``metrics``, ``train_config``, ``depends_on`` (the checkpoints the weights need, e.g. a prior's
autoencoder), ``genzoo_version``, ``tensors_sha256``. Loading never unpickles anything, and refuses a file
whose tensors no longer match their hash (flipped bytes), non-finite weights, and buffers a model derives from
its config (``derived_buffers``) that disagree with that config.

A path without the ``.safetensors`` suffix is a folder in the Hugging Face layout (what huggingface_hub's
``PyTorchModelHubMixin`` writes and ``from_pretrained`` / ``push_to_hub`` use): ``model.safetensors`` (the same
file, metadata included) and ``config.json`` (the model config's fields, plus ``architecture``).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from itertools import pairwise
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from genzoo.config import config_to_dict
from genzoo.registry import create_model, get_model_class, resolve_pretrained
from genzoo.run_log import continued_curve

FORMAT = "genzoo"
WEIGHTS_NAME, CONFIG_NAME = "model.safetensors", "config.json"  # huggingface_hub's constants
STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def storage_dtype(name: str) -> torch.dtype:
    """``"float32" | "float16" | "bfloat16"`` -> the torch dtype floating tensors are stored in."""
    if name not in STORAGE_DTYPES:
        raise ValueError(f"unknown storage dtype {name!r}; choose one of {', '.join(STORAGE_DTYPES)}")
    return STORAGE_DTYPES[name]


@torch.no_grad()
def round_to_storage_dtype_(model, dtype: torch.dtype) -> None:
    """Round ``model``'s floating parameters and buffers in place to the values ``dtype`` can hold.

    A checkpoint stored in float16 holds these rounded values; rounding *before* measuring metrics makes the
    metrics in its metadata those of the weights a user loads (float16 -> float32 is exact).
    """
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            tensor.copy_(tensor.to(dtype))


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over the tensors' names, dtypes, shapes and bytes, in name order (about 10 ms for 6 MB)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _version() -> str:
    from genzoo import __version__

    return __version__


def atomic_save_safetensors(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str]) -> None:
    """Write to a temporary file beside ``path``, then rename: a killed writer never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; a checkpoint is an ordinary file
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_pretrained(model, path: str | Path, metrics: dict[str, Any] | None = None,
                    dataset: dict[str, Any] | None = None, train_config: dict[str, Any] | None = None,
                    dtype: torch.dtype | None = None, history: list[dict] | None = None) -> Path:
    """Save ``model``'s weights and everything needed to rebuild it: into one ``.safetensors`` file, or, for a
    path without that suffix, into a Hugging Face folder (``model.safetensors`` + ``config.json``).

    ``dtype`` (e.g. ``torch.float16``) stores the floating tensors at that precision, half the file size, and
    integer tensors in the narrowest integer type that holds their values (a 32-mask MADE's int64 degrees take
    a quarter); loading casts both back to the model's own dtypes. See ``round_to_storage_dtype_`` for honest
    metrics. ``history``: the run's learning curve (``run_log.learning_curve``), kept so that a shipped file
    carries the curve its docs page plots.
    Returns the path written (the folder for the Hugging Face layout).
    """
    path = Path(path)
    folder = None if path.suffix == ".safetensors" else path
    weights = folder / WEIGHTS_NAME if folder is not None else path
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else _narrowest_integers(v) for k, v in tensors.items()}
    config = config_to_dict(model.config)
    metadata = {
        "format": FORMAT,
        "architecture": model.architecture,
        "config": json.dumps(config),
        "dataset": json.dumps(dataset or {}),
        "metrics": json.dumps(metrics or {}),
        "train_config": json.dumps(train_config or {}),
        "depends_on": json.dumps(model.dependencies()),
        "history": json.dumps(history or []),
        "genzoo_version": _version(),
        "tensors_sha256": tensors_sha256(tensors),
    }
    atomic_save_safetensors(tensors, weights, metadata)
    if folder is not None:
        text = json.dumps({**config, "architecture": model.architecture}, sort_keys=True, indent=2)
        _atomic_write_text(folder / CONFIG_NAME, text)
    return path


def _narrowest_integers(tensor: torch.Tensor) -> torch.Tensor:
    """An integer tensor in the narrowest of int8/int16/int32 that holds its values (others unchanged)."""
    if tensor.dtype not in (torch.int16, torch.int32, torch.int64) or tensor.numel() == 0:
        return tensor
    low, high = int(tensor.min()), int(tensor.max())
    for dtype in (torch.int8, torch.int16, torch.int32):
        if torch.iinfo(dtype).min <= low and high <= torch.iinfo(dtype).max:
            return tensor.to(dtype)
    return tensor


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _weights_file(path: Path) -> Path:
    """The safetensors file of a checkpoint path: the file itself, or a Hugging Face folder's weights."""
    return path / WEIGHTS_NAME if path.is_dir() else path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The decoded metadata of a genzoo checkpoint; a damaged or foreign file raises a clear ValueError."""
    path = _weights_file(resolve_pretrained(path))
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable safetensors file (damaged or truncated?): {exc}") from exc
    if raw.get("format") != FORMAT or "architecture" not in raw:
        raise ValueError(f"{path} is a safetensors file but not a genzoo checkpoint (no genzoo metadata)")
    meta = dict(raw)
    for key in ("config", "dataset", "metrics", "train_config", "depends_on"):
        meta[key] = json.loads(raw.get(key) or "{}")
    meta["history"] = json.loads(raw.get("history") or "[]")  # files exported before it was recorded have none
    return meta


def training_cost(metadata: dict[str, Any]) -> tuple[int | None, float | None]:
    """(optimizer steps, seconds of them) that made a checkpoint, over every warm-started piece: the export's
    ``steps_total`` / ``train_seconds_total`` where recorded; else, for a first piece, its own ``step`` and
    ``train_seconds``; for a warm start exported before totals were kept, the last step of its learning curve
    where that curve continues its source's (it runs past the piece's own steps) and no seconds (a piece's own
    are not the whole cost); None where unknown."""
    metrics = metadata.get("metrics", {})
    if "steps_total" in metrics:
        return metrics["steps_total"], metrics.get("train_seconds_total")
    if not metadata.get("train_config", {}).get("init_from"):
        return metrics.get("step"), metrics.get("train_seconds")
    last = max((r["step"] for r in metadata.get("history") or []), default=0)
    return (last if metrics.get("step") is not None and last > metrics["step"] else None), None


def piece_totals(source_steps: int | None, source_seconds: float | None, metrics: dict[str, Any]) -> dict:
    """A warm-started piece's ``steps_total`` (and ``train_seconds_total`` where its source's seconds are known):
    its source's cost plus its own ``step`` and ``train_seconds``; empty where the source's steps are unknown."""
    if source_steps is None:
        return {}
    totals = {"steps_total": source_steps + metrics["step"]}
    if source_seconds is not None:
        totals["train_seconds_total"] = round(source_seconds + metrics["train_seconds"], 1)
    return totals


def record_source_totals(path: str | Path, source: str | Path) -> dict:
    """Give a warm start exported before totals were kept its ``steps_total`` and ``train_seconds_total``, read
    from the very file it started from (its tensors' hash must be the ``init_from_sha256`` the warm start
    recorded, e.g. an earlier version of a shipped file from git history). Returns the totals added."""
    meta, src = read_metadata(path), read_metadata(source)
    sha = meta.get("train_config", {}).get("init_from_sha256")
    if sha is None:
        raise ValueError(f"{path} records no warm start (no train_config init_from_sha256): its own step and "
                         "train_seconds are its whole cost")
    if src.get("tensors_sha256") != sha:
        raise ValueError(f"{source} is not the file {path} was warm-started from: its tensors sha256 "
                         f"{src.get('tensors_sha256')} is not the recorded {sha}")
    steps, seconds = training_cost(src)
    if steps is None or seconds is None:
        raise ValueError(f"{source} does not record its own training cost (steps {steps}, seconds {seconds})")
    totals = piece_totals(steps, seconds, meta["metrics"])
    add_metrics(path, totals)
    return totals


def rebuilt_history(chain: list[str | Path]) -> list[dict]:
    """The learning curve of the last file of ``chain`` (oldest first, each file warm-started from the one before:
    checked by its tensors' hash) as ``run_log.continued_curve`` now draws it: each piece from the step of the
    weights it started from. Exports before that shifted a piece by its source's last recorded step, which lies
    past those weights where the source exported an earlier step (its best valid one), and kept the source's
    records beyond them; each stored curve is its source's stored curve followed by its own records so shifted,
    which is how its own records are recovered here. The first file's curve is taken as it is."""
    metas = [read_metadata(path) for path in chain]
    history = metas[0].get("history") or []
    for (source_path, source), (path, meta) in pairwise(zip(chain, metas)):
        if meta.get("train_config", {}).get("init_from_sha256") != source.get("tensors_sha256"):
            raise ValueError(f"{path} was not warm-started from {source_path} (its init_from_sha256 is not that "
                             "file's tensors sha256)")
        stored, own = source.get("history") or [], meta.get("history") or []
        if own[:len(stored)] != stored:
            raise ValueError(f"{path}'s curve does not begin with {source_path}'s: not a curve continued at export")
        shift = max((r["step"] for r in stored), default=0)
        start = training_cost(source)[0]
        if start is None:
            raise ValueError(f"{source_path} records no step count, so where {path} started is unknown")
        history = continued_curve(history, [{**r, "step": r["step"] - shift} for r in own[len(stored):]], start)
    return history


def add_metrics(path: str | Path, metrics: dict[str, Any], replace: bool = False) -> None:
    """Add ``metrics`` to a checkpoint's recorded metrics, its tensors kept exactly as stored (verified against
    their content hash first); the file is rewritten atomically. Existing keys are never changed (a metric
    recorded at export stays the one measured then) unless ``replace``: a re-measurement asked for by name."""
    meta = read_metadata(path)
    clash = sorted(k for k in metrics if k in meta["metrics"] and meta["metrics"][k] != metrics[k])
    if clash and not replace:
        raise ValueError(f"{path} already records {', '.join(clash)} with other values; not overwritten")
    _rewrite_metadata(path, metrics=json.dumps({**meta["metrics"], **metrics}))


def replace_history(path: str | Path, history: list[dict]) -> None:
    """Record ``history`` as the checkpoint's learning curve (e.g. a warm-started file's curve continued from
    its source's, ``run_log.continued_curve``), its tensors kept exactly as stored."""
    _rewrite_metadata(path, history=json.dumps(history))


def _rewrite_metadata(path: str | Path, **fields: str) -> None:
    """Replace metadata ``fields`` (already JSON text) of a genzoo checkpoint; the tensors are verified against
    their content hash and written back as stored, atomically."""
    path = _weights_file(resolve_pretrained(path))
    meta = read_metadata(path)
    tensors = load_file(str(path))  # the stored dtypes (float16 weights, narrow integers) as they are
    verify_tensors(path, meta, tensors)
    with safe_open(str(path), framework="pt") as fh:
        raw = dict(fh.metadata())
    atomic_save_safetensors(tensors, path, {**raw, **fields})


def verify_tensors(path: Path, meta: dict, state: dict[str, torch.Tensor]) -> None:
    """The tensors are those that were written (content hash) and finite, or a ValueError naming the problem."""
    stored = meta.get("tensors_sha256")
    if stored is None:
        raise ValueError(f"{path} has no tensors_sha256 in its metadata, so its content cannot be verified; "
                         "re-save it with genzoo.save_pretrained")
    if tensors_sha256(state) != stored:
        raise ValueError(f"{path}: its tensors do not match the content hash in its metadata: the file was changed "
                         "or damaged after it was written")
    bad = [name for name, t in state.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise ValueError(f"{path}: non-finite weights in {', '.join(bad[:5])}; refusing to load them")


def load_pretrained(name_or_path: str | Path, architecture: str | None = None, device: str | torch.device = "cpu"):
    """Rebuild and load a model from a shipped name, a ``.safetensors`` path or a Hugging Face folder.

    ``architecture``, when given, is checked against the file's: loading a checkpoint as another architecture
    fails with a message naming both. Weights load strictly (every tensor present, no extras, same shapes),
    on the CPU; the model then moves to ``device``.
    """
    path = _weights_file(resolve_pretrained(name_or_path))
    meta = read_metadata(path)
    if architecture is not None and meta["architecture"] != architecture:
        raise ValueError(
            f"{path} holds a {meta['architecture']!r} checkpoint, not {architecture!r}; "
            f"load it with architecture={meta['architecture']!r} or pick a {architecture!r} checkpoint"
        )
    get_model_class(meta["architecture"])  # unknown architecture: error with close names
    model = create_model(meta["architecture"], **meta["config"])
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            state = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: could not read its tensors (damaged file?): {exc}") from exc
    verify_tensors(path, meta, state)
    derived = {name: buffer.clone() for name, buffer in model.named_buffers() if name in model.derived_buffers}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{path}: its tensors do not fit a {meta['architecture']!r} with its config: {exc}") from exc
    for name, expected in derived.items():
        if not torch.equal(model.get_buffer(name), expected):
            raise ValueError(f"{path}: buffer {name!r} is not what the config gives (the model derives it from "
                             "its config, e.g. an order from a seed): the file is inconsistent")
    model.pretrained_metadata = meta
    return model.to(torch.device(device)).eval()
