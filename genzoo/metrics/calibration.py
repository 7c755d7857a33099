"""The scale of the sample metrics, printed with every table: real training digits against the test digits (the
floor a perfect model reaches), the same digits with Gaussian pixel noise, and a single class (mode collapse)."""
from __future__ import annotations

import torch

NOISE_SIGMAS = (0.05, 0.1, 0.2, 0.4)


def calibration_sets(images: torch.Tensor, labels: torch.Tensor, n: int = 10000, seed: int = 0,
                     collapsed_class: int = 1) -> dict[str, torch.Tensor]:
    """Named image sets (N, C, H, W) in [0, 1] built from real digits ``images`` with ``labels``: the first
    ``n``, those with N(0, sigma^2) pixel noise (clamped to [0, 1]), and ``n`` draws of one class."""
    g = torch.Generator().manual_seed(seed)
    real = images[:n]
    sets = {"real train digits (floor)": real}
    for sigma in NOISE_SIGMAS:
        noise = torch.randn(real.shape, generator=g) * sigma
        sets[f"train digits + noise sigma {sigma}"] = (real + noise).clamp(0, 1)
    one = images[labels == collapsed_class]
    sets[f"one class (digit {collapsed_class})"] = one[torch.randint(len(one), (n,), generator=g)]
    return sets
