"""Code grids of an autoencoder checkpoint: the data a prior over codes (e.g. a PixelCNN) trains on.

    data:
      name: code_grids
      autoencoder: vqvae-rotation-mnist   # a shipped name or a .safetensors path

The grids are computed once per checkpoint *file*: the autoencoder encodes the split of the dataset named in
its metadata, and the index grids are cached under the file's sha256 in the user cache dir, so a retrained
checkpoint of the same name never reuses stale codes and the training step never runs the autoencoder.
Any checkpoint whose model has ``encode(images) -> (B, H, W)`` indices and ``codebook_size`` works.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open

from genzoo.data.registry import DatasetConfig, check_split_name, dataset_from_dict, register_dataset
from genzoo.data.root import cache_dir
from genzoo.data.splits import IndexSplit, Split

FORMAT = "genzoo-codes"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@torch.no_grad()
def encode_split(model, split: Split, batch_size: int = 500) -> torch.Tensor:
    """Index grids (N, H, W) (int64, on the CPU) of every example of ``split``, in order."""
    model.eval()
    grids = [model.encode(split.batch(slice(i, i + batch_size), device=model.device)).cpu()
             for i in range(0, len(split), batch_size)]
    return torch.cat(grids).long()


def pretrained_dataset(model, root: str | None = None) -> DatasetConfig:
    """The dataset a loaded checkpoint was trained on (from its metadata), read from ``root`` if given."""
    section = dict(getattr(model, "pretrained_metadata", {}).get("dataset") or {})
    if not section:
        raise ValueError(f"this {model.architecture!r} checkpoint records no dataset in its metadata")
    return dataset_from_dict(section, where="dataset").with_root(root)


def export_codes(model, split: Split, path: str | Path, source: str = "", **metadata: str) -> Path:
    """Write the index grids of ``split`` to a safetensors file (int16 when the codebook allows), with the
    codebook size and ``source`` (e.g. the checkpoint name) in its metadata."""
    from genzoo.checkpoint import atomic_save_safetensors

    grids = encode_split(model, split)
    dtype = torch.int16 if model.codebook_size <= 2**15 else torch.int32
    atomic_save_safetensors({"indices": grids.to(dtype).contiguous()}, path, {
        "format": FORMAT, "codebook_size": str(model.codebook_size), "source": source,
        "architecture": model.architecture, **metadata})
    return Path(path)


def load_codes(path: str | Path) -> tuple[torch.Tensor, dict]:
    """(index grids (N, H, W) as int64, metadata) from a file written by ``export_codes``."""
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path} is not a genzoo code-grid file (format {meta.get('format')!r})")
        grids = fh.get_tensor("indices").long()
    meta = {**meta, "codebook_size": int(meta["codebook_size"])}
    if grids.numel() and (grids.min() < 0 or grids.max() >= meta["codebook_size"]):
        raise ValueError(f"{path}: indices outside [0, {meta['codebook_size']})")
    return grids, meta


@register_dataset("code_grids")
@dataclass
class CodeGridData(DatasetConfig):
    """Index grids (N, H, W) of an autoencoder checkpoint over the splits of the images it was trained on."""

    autoencoder: str = "vqvae-rotation-mnist"  # a shipped checkpoint name or a .safetensors path
    root: str | None = None  # data root of the images the autoencoder encodes

    def load(self, split: str, seed: int = 0) -> IndexSplit:
        from genzoo.checkpoint import load_pretrained, read_metadata
        from genzoo.registry import resolve_pretrained

        check_split_name(split)
        path = resolve_pretrained(self.autoencoder)
        digest = file_sha256(path)
        cached = cache_dir() / "code_grids" / f"{digest[:16]}-{split}.safetensors"
        if not cached.is_file():
            model = load_pretrained(path)
            export_codes(model, pretrained_dataset(model, self.root).load(split), cached,
                         source=str(self.autoencoder), sha256=digest, split_name=split)
        grids, meta = load_codes(cached)
        autoencoder = read_metadata(path)
        images = dataset_from_dict(autoencoder["dataset"], where="dataset").with_root(self.root)
        source = {"autoencoder": str(self.autoencoder), "tensors_sha256": autoencoder["tensors_sha256"]}
        return IndexSplit(grids, meta["codebook_size"], source=source, image_split=lambda: images.load(split))

    def describe(self) -> str:
        return f"codes of {Path(self.autoencoder).stem}"
