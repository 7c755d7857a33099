"""Sample grids written with torchvision, shared by the training loop and the sample/ scripts."""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torchvision.utils import save_image


@torch.no_grad()
def save_sample_grid(model, path: str | Path, n: int = 64, seed: int = 0, reference: torch.Tensor | None = None) -> Path:
    """Write ``model.preview`` as one PNG grid: ``n`` samples drawn with a generator seeded by ``seed`` (models
    without a sampler show their reconstructions of ``reference`` images instead)."""
    generator = torch.Generator(device=model.device).manual_seed(seed)
    was_training = model.training
    model.eval()
    samples = model.preview(n, generator=generator, reference=reference)
    model.train(was_training)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(samples.float().clamp(0, 1), path, nrow=max(1, int(math.sqrt(n))), padding=2, pad_value=0.5)
    return path
