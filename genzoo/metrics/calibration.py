"""The scale of the sample metrics, printed with every table: real training digits against the test digits (the
floor a perfect model reaches), the same digits with Gaussian pixel noise, and a single class (mode collapse);
and, for a model's samples, real digits drawn at the samples' class shares: the FID a model would score if its
every digit were real but its classes as unbalanced as they are, which splits its FID into what its class shares
cost and what the digits themselves cost."""
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


def counts_for_shares(shares: torch.Tensor, n: int) -> torch.Tensor:
    """(K,) integer counts summing to ``n`` in proportion to ``shares`` (K,), by the largest remainders."""
    if shares.dim() != 1 or (shares < 0).any() or abs(float(shares.sum()) - 1) > 1e-3:
        raise ValueError(f"class shares must be a 1-D tensor of non-negative shares summing to 1, got {shares}")
    exact = shares.double() / shares.double().sum() * n
    counts = exact.floor().long()
    remainder = n - int(counts.sum())
    counts[(exact - counts).argsort(descending=True)[:remainder]] += 1
    return counts


def class_matched_set(images: torch.Tensor, labels: torch.Tensor, shares: torch.Tensor, n: int = 10000,
                      seed: int = 0) -> torch.Tensor:
    """``n`` real digits (n, C, H, W), drawn with replacement from ``images`` class by class so that their labels'
    histogram is ``shares`` (K,), a model's class shares: the model's FID if its digits were real."""
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for k, count in enumerate(counts_for_shares(shares, n).tolist()):
        pool = (labels == k).nonzero().squeeze(1)  # (N_k,)
        if count and not len(pool):
            raise ValueError(f"class {k} has share {float(shares[k]):.4f} but no real digit to draw")
        chosen.append(pool[torch.randint(len(pool), (count,), generator=g)])
    return images[torch.cat(chosen)]
