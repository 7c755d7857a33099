"""Inverse-CDF sampling shared by the 1-D density models."""
from __future__ import annotations

import torch


def invert_cdf(cdf, pdf, target: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, tol: float = 1e-6,
               max_iter: int = 200) -> torch.Tensor:
    """Solve cdf(x) = target elementwise inside brackets lo <= x <= hi (cdf(lo) <= target <= cdf(hi)).

    Safeguarded Newton: a Newton step x - (cdf(x) - target) / pdf(x) where it stays strictly inside the current
    bracket, bisection otherwise; the bracket shrinks every iteration, so it converges like Newton near the root
    and never diverges. Stops when every step or bracket is below ``tol``.
    """
    x = (lo + hi) / 2
    for _ in range(max_iter):
        f = cdf(x) - target
        below = f < 0
        lo, hi = torch.where(below, x, lo), torch.where(below, hi, x)
        newton = x - f / pdf(x).clamp_min(torch.finfo(x.dtype).tiny)
        x_new = torch.where((newton > lo) & (newton < hi), newton, (lo + hi) / 2)
        done = ((x_new - x).abs() < tol) | ((hi - lo) < tol)
        x = x_new
        if bool(done.all()):
            break
    return x
