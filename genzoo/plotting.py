"""Plots written with matplotlib: fitted 1-D densities, codebook usage, the front page's rows of samples and
learning curves."""
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


def labelled_rows(rows: list[tuple[str, torch.Tensor]], path: Path) -> Path:
    """One row of images per label, the label at its left: ``rows`` of (label, images (n, C, H, W) in [0, 1]).
    The front page's picture of samples from every image model."""
    from torchvision.utils import make_grid

    plt = _pyplot()
    per_row = max(len(images) for _, images in rows)
    fig, axes = plt.subplots(len(rows), 1, figsize=(0.42 * per_row + 2.6, 0.48 * len(rows)), squeeze=False)
    for ax, (label, images) in zip(axes[:, 0], rows):
        grid = make_grid(images.detach().float().cpu().clamp(0, 1), nrow=per_row, padding=2, pad_value=0.5)
        ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")  # (H, W, 3)
        ax.set_axis_off()
        ax.text(-6, grid.shape[1] / 2, label, ha="right", va="center", fontsize=9, family="monospace")
    fig.subplots_adjust(left=2.4 / fig.get_figwidth(), right=0.995, top=0.995, bottom=0.005, hspace=0.08)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def settled_range(curves: dict[str, list[tuple[int, float]]], skip: float = 0.1) -> tuple[float, float] | None:
    """y-limits that show the curves after their first ``skip`` of the steps: the first steps' values (an
    initial loss of 300 nats beside a finish at 80) would otherwise flatten everything that follows."""
    points = [p for pts in curves.values() for p in pts]
    if not points:
        return None
    last = max(step for step, _ in points)
    settled = [value for step, value in points if step >= skip * last]
    low, high = min(settled), max(settled)
    pad = 0.05 * (high - low) or 0.05 * abs(high) or 1.0
    return low - pad, high + pad


def _save(plt, fig, path: Path) -> Path:
    """Write ``fig`` to ``path`` (folders made) at the docs' resolution and free it."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def learning_curves(curves: dict[str, list[tuple[int, float]]], path: Path, title: str, ylabel: str) -> Path:
    """Lines of (step, value) points, one per name (e.g. the training loss and the valid NLL of a run)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for name, points in curves.items():
        if points:
            steps, values = zip(*points)
            ax.plot(steps, values, "o-" if len(points) < 30 else "-", ms=3, lw=1.2, label=name)
    ax.set(title=title, xlabel="step", ylabel=ylabel)
    limits = settled_range(curves)
    if limits is not None:
        ax.set_ylim(*limits)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(plt, fig, path)


def class_histograms(steps: list[int], shares: list[list[float]], path: Path, title: str) -> Path:
    """The class histogram of a model's samples at each evaluation, stacked (one band per class, each band's
    height its share): even bands are balanced classes, a band that thins to nothing is a class lost."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4))
    bands = np.asarray(shares, dtype=float).T  # (K, evaluations)
    colors = plt.get_cmap("tab10").colors
    ax.stackplot(steps, bands, labels=[str(k) for k in range(len(bands))], colors=colors[:len(bands)],
                 alpha=0.85)
    ax.set(title=title, xlabel="step", ylabel="share of the samples (stacked)", ylim=(0, 1))
    ax.legend(title="class", loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    return _save(plt, fig, path)
