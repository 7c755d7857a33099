"""Implicit maximum likelihood (Li & Malik 2018, "Implicit Maximum Likelihood Estimation", alg. 1): each real
image picks its nearest sample, without gradient, and pulls it towards itself, so every image has a sample near it.
A generator term, for IGN's f(z) and the GAN's G(z) alike; Al-Jaff et al. 2025 (NAIGN) use it against IGN's mode
dropping.

Two pools: the batch's own B samples (``imle_loss``), or K * B fresh candidates drawn without gradient, of which
only the chosen B are generated again with it (``pooled_imle_loss``, alg. 1's m samples per data point).

Two matchings: ``nearest`` (alg. 1: several images may pick one sample, so a class the generator under-draws is
pulled on by few samples) or ``one_to_one``: the assignment of images to distinct samples of least total distance
(scipy's linear_sum_assignment), so B images pull B different samples. With the batch's own samples that is the
primal minibatch optimal-transport loss (Genevay et al. 2018, "Learning Generative Models with Sinkhorn
Divergences", eq. 2 at epsilon = 0): a sample pool drawing 5% eights against a batch of 10% must move the extra
eights' partners, which the nearest matching never asks. Measured on MNIST in L1 pixel distance (docs/ign.md), it
balanced nothing and scored worse than the nearest: a thin one is a cheap partner for many digits."""
from __future__ import annotations

from typing import Callable, Literal

import torch
from scipy.optimize import linear_sum_assignment

Distance = Literal["l1", "l2"]
Matching = Literal["nearest", "one_to_one"]


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


def match(distances: torch.Tensor, matching: Matching) -> torch.Tensor:
    """(B, N) distances, N >= B -> (B,) the sample each image pulls: its nearest, or distinct samples of least
    total distance."""
    if matching == "nearest":
        return distances.argmin(1)
    _, columns = linear_sum_assignment(distances.detach().cpu().double().numpy())  # rows come back sorted
    return torch.as_tensor(columns, device=distances.device)


def nearest_samples(x: torch.Tensor, samples: torch.Tensor, kind: Distance,
                    matching: Matching = "nearest") -> torch.Tensor:
    """(B, ...) the sample each image pulls (row i for image i), chosen without gradient; the rows keep the
    samples' gradient, so samples no image chose get none."""
    with torch.no_grad():
        chosen = match(pairwise_distance(x, samples, kind), matching)  # (B,)
    return samples[chosen]


def imle_loss(x: torch.Tensor, samples: torch.Tensor, kind: Distance, matching: Matching = "nearest") -> torch.Tensor:
    """mean_i D(samples_m(i), x_i) with m the matching: chosen without gradient, then each sample pulled to its
    image; samples no image chose get no gradient."""
    return per_example_distance(nearest_samples(x, samples, kind, matching), x, kind).mean()


def matched_latents(x: torch.Tensor, candidates: torch.Tensor, generate: Callable[[torch.Tensor], torch.Tensor],
                    kind: Distance, matching: Matching = "nearest") -> torch.Tensor:
    """The latents of the samples among generate(candidates) matched to the images, without gradient, (B, ...)."""
    with torch.no_grad():
        chosen = match(pairwise_distance(x, generate(candidates), kind), matching)  # (B,): indices into the pool
    return candidates[chosen]


def pooled_imle_loss(x: torch.Tensor, candidates: torch.Tensor, generate: Callable[[torch.Tensor], torch.Tensor],
                     kind: Distance, matching: Matching = "nearest") -> torch.Tensor:
    """imle_loss over a pool of K * B candidate latents: the matched ones generated again with gradient (the
    pool's pass keeps no graph, so memory stays one batch's)."""
    chosen = matched_latents(x, candidates, generate, kind, matching)  # (B, ...)
    return per_example_distance(generate(chosen), x, kind).mean()


def matched_samples(x: torch.Tensor, samples: torch.Tensor, draw: Callable[[int], torch.Tensor],
                    generate: Callable[[torch.Tensor], torch.Tensor], kind: Distance, pool: int = 1,
                    matching: Matching = "nearest") -> torch.Tensor:
    """(B, ...) the sample each image pulls, with gradient, row i for image i: among the batch's own ``samples``
    (pool 1), or among ``generate(draw(pool * B))``, generated again from the matched latents."""
    if pool == 1:
        return nearest_samples(x, samples, kind, matching)
    return generate(matched_latents(x, draw(pool * x.shape[0]), generate, kind, matching))


def imle_term(x: torch.Tensor, samples: torch.Tensor, draw: Callable[[int], torch.Tensor],
              generate: Callable[[torch.Tensor], torch.Tensor], kind: Distance, pool: int = 1,
              matching: Matching = "nearest") -> torch.Tensor:
    """A model's L_imle: over the batch's own ``samples`` (pool 1), or over ``generate(draw(pool * B))``."""
    return per_example_distance(matched_samples(x, samples, draw, generate, kind, pool, matching), x, kind).mean()


def check_pool(lambda_imle: float, imle_pool: int, imle_matching: Matching = "nearest") -> None:
    """A pool or matching without the term it serves is a config mistake, not a silent no-op."""
    given = [f"imle_pool: {imle_pool}"] if imle_pool > 1 else []
    given += [f"imle_matching: {imle_matching}"] if imle_matching != "nearest" else []
    if given and lambda_imle == 0:
        raise ValueError(f"model.{', model.'.join(given)} needs model.lambda_imle > 0 (the term it serves)")
