"""Code grids out of a VQ-VAE and back: the data a prior over codes (the PixelCNN family) trains on."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open

from genzoo.checkpoint import atomic_save_safetensors
from genzoo.data import ImageSplit

FORMAT = "genzoo-codes"


@torch.no_grad()
def encode_split(model, split: ImageSplit, batch_size: int = 500) -> torch.Tensor:
    """Index grids (N, 7, 7) (int64) of every image of ``split``, in order."""
    model.eval()
    images = split.images()
    grids = [model.encode(split.to_float(images[i:i + batch_size]).to(model.device)).cpu()
             for i in range(0, len(images), batch_size)]
    return torch.cat(grids)


def export_codes(model, split: ImageSplit, path: str | Path, source: str = "") -> Path:
    """Write the index grids of ``split`` to a safetensors file (int16 when the codebook allows), with the
    codebook size, the grid shape and ``source`` (e.g. the checkpoint name) in its metadata."""
    grids = encode_split(model, split)
    dtype = torch.int16 if model.codebook_size <= 2**15 else torch.int32
    metadata = {"format": FORMAT, "codebook_size": str(model.codebook_size), "source": source,
                "config": json.dumps({"architecture": model.architecture})}
    atomic_save_safetensors({"indices": grids.to(dtype).contiguous()}, path, metadata)
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
