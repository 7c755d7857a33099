"""Image grids written with torchvision: the default preview of a model that samples images."""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torchvision.utils import save_image


def save_image_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None) -> Path:
    """``images`` (N, C, H, W) in [0, 1] -> one PNG grid of about sqrt(N) per row, 2-pixel grey padding."""
    if images.dim() != 4:
        raise ValueError(f"an image grid needs images (N, C, H, W), got shape {tuple(images.shape)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nrow = nrow or max(1, int(math.sqrt(images.shape[0])))
    save_image(images.detach().float().cpu().clamp(0, 1), path, nrow=nrow, padding=2, pad_value=0.5)
    return path
