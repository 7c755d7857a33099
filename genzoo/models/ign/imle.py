"""Implicit maximum likelihood (Li & Malik 2018, "Implicit Maximum Likelihood Estimation", alg. 1): each real
image picks its nearest sample, without gradient, and pulls it towards itself, so every image has a sample near it.
A generator term, for IGN's f(z) and the GAN's G(z) alike; Al-Jaff et al. 2025 (NAIGN) use it against IGN's mode
dropping. Two pools: the batch's own B samples (``imle_loss``), or K * B fresh candidates drawn without gradient,
of which only the chosen B are generated again with it (``pooled_imle_loss``, alg. 1's m samples per data point:
the larger the pool, the nearer each image's sample, so a rare class is pulled on by samples of its own class
rather than by the nearest sample of a common one)."""
from __future__ import annotations

from typing import Callable, Literal

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


def nearest_latents(x: torch.Tensor, candidates: torch.Tensor, generate: Callable[[torch.Tensor], torch.Tensor],
                    kind: Distance) -> torch.Tensor:
    """Each image's nearest sample among generate(candidates), chosen without gradient -> its latent, (B, ...)."""
    with torch.no_grad():
        nearest = pairwise_distance(x, generate(candidates), kind).argmin(1)  # (B,): indices into the pool
    return candidates[nearest]


def pooled_imle_loss(x: torch.Tensor, candidates: torch.Tensor, generate: Callable[[torch.Tensor], torch.Tensor],
                     kind: Distance) -> torch.Tensor:
    """mean_i min_k D(generate(candidates_k), x_i), the minimum over a pool of K * B candidate latents: the chosen
    ones generated again with gradient (the pool's pass keeps no graph, so memory stays one batch's)."""
    chosen = nearest_latents(x, candidates, generate, kind)  # (B, ...)
    return per_example_distance(generate(chosen), x, kind).mean()


def check_pool(lambda_imle: float, imle_pool: int) -> None:
    """A pool without the term it serves is a config mistake, not a silent no-op."""
    if imle_pool > 1 and lambda_imle == 0:
        raise ValueError(f"model.imle_pool: {imle_pool} needs model.lambda_imle > 0 (the term the pool serves)")
