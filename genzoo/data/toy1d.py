"""1-D targets with exact densities, for density models (and a user's own column of numbers).

Each target is a frozen scipy distribution or an equal-weight mixture of them, so ``logpdf``, ``cdf`` and the
differential entropy are exact (KL(target || model) is then a quadrature away). Splits are fixed seeded draws:
train 50000, valid 10000, test 10000.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import integrate, special, stats

from genzoo.data.columns import load_column, split_column
from genzoo.data.registry import DatasetConfig, check_split_name, register_dataset
from genzoo.data.splits import SampleSplit

SPLIT_SIZES = {"train": 50000, "valid": 10000, "test": 10000}
SPLIT_SEEDS = {"train": 0, "valid": 1, "test": 2}

# google/codex's Fourier demo target: 10 equal-weight Gaussians (differential entropy -0.5978 nats)
GMM10_MEANS = [-0.109032, 0.043838, -0.006983, -0.051187, -0.139484, -0.031307, -0.440152, 0.120107, 0.059167,
               0.154907]
GMM10_SCALES = [0.049812, 0.052997, 0.051938, 0.051017, 0.049177, 0.051431, 0.042913, 0.054586, 0.053316, 0.055311]


class Mixture:
    """Mixture of frozen scipy distributions with the given weights (the parts of its interface used here)."""

    def __init__(self, components, weights=None):
        self.components = list(components)
        w = np.full(len(self.components), 1 / len(self.components)) if weights is None else np.asarray(weights, float)
        self.weights = w / w.sum()

    def logpdf(self, y):
        y = np.asarray(y, dtype=np.float64)
        parts = np.stack([c.logpdf(y) for c in self.components]) + np.log(self.weights)[:, None].reshape(
            (-1,) + (1,) * y.ndim)
        return special.logsumexp(parts, axis=0)

    def pdf(self, y):
        return np.exp(self.logpdf(y))

    def cdf(self, y):
        return sum(w * c.cdf(y) for w, c in zip(self.weights, self.components))

    def rvs(self, size: int, random_state: np.random.RandomState):
        which = random_state.choice(len(self.components), size=size, p=self.weights)
        out = np.empty(size)
        for k, c in enumerate(self.components):
            mask = which == k
            out[mask] = c.rvs(size=int(mask.sum()), random_state=random_state)
        return out

    def support(self):
        return (min(c.support()[0] for c in self.components), max(c.support()[1] for c in self.components))


TARGETS = {
    "gmm10": lambda: Mixture([stats.norm(m, s) for m, s in zip(GMM10_MEANS, GMM10_SCALES)]),
    "laplace": lambda: stats.laplace(0.0, 1.0),
    "student_t3": lambda: stats.t(df=3),
    "lognormal": lambda: stats.lognorm(s=0.75),  # skewed to the right, support (0, inf)
    "beta": lambda: stats.beta(2, 5),  # bounded on [0, 1]
    "spike_bump": lambda: Mixture([stats.norm(0.0, 1.0), stats.norm(0.5, 0.01)], weights=[0.7, 0.3]),  # scales 100x apart
}


def target(name: str):
    if name not in TARGETS:
        raise ValueError(f"unknown 1-D target {name!r}; targets: {', '.join(TARGETS)}")
    return TARGETS[name]()


def sample_target(name: str, split: str) -> np.ndarray:
    """The fixed draw (n,) of ``split`` (train / valid / test) from target ``name``."""
    rs = np.random.RandomState(1000 * (list(TARGETS).index(name) + 1) + SPLIT_SEEDS[split])
    return np.asarray(target(name).rvs(size=SPLIT_SIZES[split], random_state=rs), dtype=np.float64)


def kl_divergence(name: str, model_log_prob) -> float:
    """KL(target || model) = int p (log p - log q) by adaptive quadrature over the target's support, split at
    the mixture components' means so that narrow modes are not stepped over; ``model_log_prob`` maps a float64
    numpy array of points to log q."""
    p = target(name)
    lo, hi = p.support()
    modes = sorted({float(c.mean()) for c in p.components}) if isinstance(p, Mixture) else [float(p.median())]
    edges = [lo] + [m for m in modes if lo < m < hi] + [hi]

    def integrand(y: float) -> float:
        logp = float(np.asarray(p.logpdf(np.array([y])))[0])
        if not math.isfinite(logp):
            return 0.0
        return math.exp(logp) * (logp - float(model_log_prob(np.array([y]))[0]))

    return sum(integrate.quad(integrand, a, b, limit=500)[0] for a, b in zip(edges[:-1], edges[1:]))


@register_dataset("toy1d")
@dataclass
class Toy1DData(DatasetConfig):
    """A 1-D target with an exact density (fixed draws of 50000 / 10000 / 10000), or a user's own numbers
    (``target: file`` with ``path``: a .npy array or the first column of a .csv, split 80/10/10)."""

    target: str = "gmm10"  # a name of TARGETS, or "file"
    path: str | None = None  # target "file" only

    def __post_init__(self):
        super().__post_init__()
        if self.target != "file":
            target(self.target)  # an unknown target is an error naming the known ones
        elif not self.path:
            raise ValueError("data.target: file needs data.path (a .npy or .csv file)")

    def load(self, split: str, seed: int = 0) -> SampleSplit:
        check_split_name(split)
        if self.target == "file":
            values = split_column(load_column(self.path), split)
        else:
            values = sample_target(self.target, split)
        return SampleSplit(torch.from_numpy(values).float()[:, None], target=self.exact_target)

    @property
    def exact_target(self) -> str | None:
        """The named target whose density is known exactly (None for a user's file)."""
        return None if self.target == "file" else self.target
