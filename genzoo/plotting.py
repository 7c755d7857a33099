"""Plots written with matplotlib (the ``plot`` extra): fitted 1-D densities and codebook usage."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genzoo.data import toy1d


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_density(model, data: np.ndarray, path: Path, title: str, target: str | None = None) -> Path:
    """Left: ``model``'s density over a histogram of ``data`` (and the true density of a named toy1d
    ``target``); right: the CDFs."""
    lo, hi = np.quantile(data, [0.001, 0.999])
    pad = 0.1 * (hi - lo)
    y = np.linspace(lo - pad, hi + pad, 2000)
    v = torch.from_numpy(y)[:, None].to(next(model.parameters()).dtype)
    with torch.no_grad():
        density, cdf = model.log_prob(v).exp()[:, 0].double().numpy(), model.cdf(v)[:, 0].double().numpy()
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.hist(data, bins=200, range=(lo - pad, hi + pad), density=True, color="0.8", label="test data")
    if target:
        left.plot(y, np.exp(toy1d.target(target).logpdf(y)), "k--", lw=1, label="true density")
        right.plot(y, toy1d.target(target).cdf(y), "k--", lw=1, label="true CDF")
    left.plot(y, density, "C0", lw=1.5, label="model")
    right.plot(y, cdf, "C0", lw=1.5, label="model CDF")
    left.set(title=title, xlabel="y", ylabel="density")
    right.set(title="CDF", xlabel="y")
    left.legend()
    right.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def usage_histogram(grids: torch.Tensor, codebook_size: int, path: Path, title: str) -> Path:
    """Bar chart of how often each code occurs in the index grids (log scale), titled with the share used."""
    counts = torch.bincount(grids.flatten(), minlength=codebook_size).numpy()
    used = (counts > 0).mean()
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.bar(range(codebook_size), counts, width=1.0)
    ax.set(xlabel="code index", ylabel="uses on the test set", yscale="log",
           title=f"{title}: {used:.1%} of {codebook_size} codes used")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
