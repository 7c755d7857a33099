"""Implicit maximum likelihood within a batch (Li & Malik 2018, "Implicit Maximum Likelihood Estimation", alg. 1,
with the batch's own samples as the pool): each real image picks its nearest sample, without gradient, and pulls
it towards itself, so every image has a sample near it. A generator term, for IGN's f(z) and the GAN's G(z) alike;
Al-Jaff et al. 2025 (NAIGN) use it against IGN's mode dropping."""
from __future__ import annotations

from typing import Literal

import torch

Distance = Literal["l1", "l2"]


def per_example_distance(a: torch.Tensor, b: torch.Tensor, kind: Distance) -> torch.Tensor:
    """D(a, b): the mean over pixels of |a - b| (l1) or (a - b)^2 (l2), per example -> (B,)."""
    diff = (a - b).flatten(1)
    return (diff.abs() if kind == "l1" else diff.pow(2)).mean(1)


def pairwise_distance(a: torch.Tensor, b: torch.Tensor, kind: Distance) -> torch.Tensor:
    """D between every a_i and b_j -> (len(a), len(b)), in at least float32 (an autocast pass gives bf16)."""
    dtype = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float32)
    a, b = a.flatten(1).to(dtype), b.flatten(1).to(dtype)  # (A, P), (B, P)
    if kind == "l1":
        return torch.cdist(a, b, p=1) / a.shape[1]
    return torch.cdist(a, b, p=2).pow(2) / a.shape[1]


def imle_loss(x: torch.Tensor, samples: torch.Tensor, kind: Distance) -> torch.Tensor:
    """mean_i min_j D(samples_j, x_i): the nearest sample is chosen without gradient, then pulled to its image;
    samples no image chose get no gradient."""
    with torch.no_grad():
        nearest = pairwise_distance(x, samples, kind).argmin(1)  # (B,): each image's nearest sample
    return per_example_distance(samples[nearest], x, kind).mean()
