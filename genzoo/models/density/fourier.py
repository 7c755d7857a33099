"""Fourier Basis Density Model (De la Fuente, Singh, Balle 2024, "Fourier Basis Density Model", arXiv
2402.15345): a 1-D density whose CDF, interval masses and samples are exact and cheap.

On [-1, 1] (sec. 2): with free complex coefficients a_0..a_N and their autocorrelation
c_n = sum_k a_k conj(a_{k+n}),
    p(x) = 1/2 + Re sum_{n=1..N} (c_n / c_0) e^{i pi n x} = |sum_k a_k e^{-i pi k x}|^2 / (2 c_0)  >= 0,
which integrates to 1 because every e^{i pi n x}, n >= 1, integrates to 0. The real line is mapped onto
(-1, 1) by x = tanh((y - t) / s) (sec. 2.2), so log q(y) = log p(x) + log(1 - x^2) - log s.

Interval masses without cancellation. With m = (x_a + x_b) / 2 and dx = x_b - x_a,
    int_{x_a}^{x_b} p = dx * (1/2 + sum_n Re[(c_n / c_0) e^{i pi n m}] sinc(n dx / 2)),   sinc(z) = sin(pi z) / (pi z),
a product of dx and the mean of p over the interval, with no difference of two nearly equal CDF values; and
dx = tanh(u_b) - tanh(u_a) = sinh(u_b - u_a) / (cosh u_a cosh u_b) is computed in log space, so a 1e-6-wide
bin 20 scales out in the tail still gets its ~1e-23 of mass. cdf(y) is the mass of (-inf, y] (below t) or one
minus the mass of (y, inf) (above t).

``channels = C`` holds C independent densities (the per-channel entropy-model use): inputs have shape
(..., C) and every operation is vectorized over channels and points.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import Config, NonNegativeFloat, PositiveFloat, PositiveInt
from genzoo.models.density.base import Density1D
from genzoo.models.density.inversion import invert_cdf
from genzoo.registry import register_model

U_MAX = 60.0  # |(y - t) / s| beyond this is the end of the line: tanh'(u) < 1e-51 there


@dataclass
class FourierDensityConfig(Config):
    num_frequencies: PositiveInt = 14  # N: coefficients a_0..a_N, 2 (N + 1) + 2 real parameters per channel
    channels: PositiveInt = 1
    scale: PositiveFloat = 1.0  # initial s
    offset: float = 0.0  # initial t
    regularization: NonNegativeFloat = 0.0  # gamma of gamma * sum_n n^2 |c_n / c_0|^2 (the integral of p'^2, up to pi^2)
    init_std: NonNegativeFloat = 0.1  # a_0 = 1, a_k ~ N(0, init_std^2): the model starts near the uniform density on x


def log_cosh(u: torch.Tensor) -> torch.Tensor:
    """log cosh(u) without overflow: |u| + log(1 + e^{-2|u|}) - log 2."""
    a = u.abs()
    return a + F.softplus(-2 * a) - math.log(2.0)


def log_tanh_difference(u_a: torch.Tensor, u_b: torch.Tensor) -> torch.Tensor:
    """log(tanh(u_b) - tanh(u_a)) for u_b >= u_a, as log sinh(u_b - u_a) - log cosh(u_a) - log cosh(u_b);
    -inf for empty intervals."""
    d = (u_b - u_a).clamp_min(0)
    log_sinh = d + torch.log(-torch.expm1(-2 * d)) - math.log(2.0)  # log sinh(d), -inf at d = 0
    return log_sinh - log_cosh(u_a) - log_cosh(u_b)


@register_model("fourier1d")
class FourierDensity(Density1D):
    """q(y) for y of shape (..., C). ``log_prob``, ``cdf``, ``interval_mass``/``log_interval_mass`` and
    ``sample`` are exact; ``loss`` is the mean negative log-likelihood (+ the smoothness penalty)."""

    config_class = FourierDensityConfig

    def __init__(self, config: FourierDensityConfig):
        super().__init__(config)
        c = config
        if c.num_frequencies < 1:
            raise ValueError(f"num_frequencies (N) must be >= 1, got {c.num_frequencies}")
        if c.channels < 1:
            raise ValueError(f"channels must be >= 1, got {c.channels}")
        if not c.scale > 0:
            raise ValueError(f"scale s must be > 0, got {c.scale}")
        a = torch.randn(c.channels, c.num_frequencies + 1, 2) * c.init_std
        a[:, 0] = torch.tensor([1.0, 0.0])
        self.coefficients = nn.Parameter(a)  # (C, N + 1, 2): real and imaginary parts of a_k
        self.log_scale = nn.Parameter(torch.full((c.channels,), math.log(c.scale)))  # s = exp(log_scale) > 0
        self.offset = nn.Parameter(torch.full((c.channels,), float(c.offset)))

    # -- the trigonometric polynomial on [-1, 1] -------------------------------------------------------------

    def autocorrelation(self) -> torch.Tensor:
        """c_n / c_0 for n = 1..N, complex (C, N)."""
        a = torch.view_as_complex(self.coefficients.contiguous())  # (C, N + 1)
        N = a.shape[1] - 1
        c = torch.stack([(a[:, : N + 1 - n] * a[:, n:].conj()).sum(1) for n in range(N + 1)], dim=1)  # (C, N + 1)
        return c[:, 1:] / c[:, :1].real

    def _frequencies(self, dtype) -> torch.Tensor:
        return torch.arange(1, self.config.num_frequencies + 1, device=self.coefficients.device, dtype=dtype)

    def density_on_interval(self, x: torch.Tensor) -> torch.Tensor:
        """p(x) on [-1, 1] for x of shape (..., C), as |sum_k a_k e^{-i pi k x}|^2 / (2 c_0): a sum of squares,
        accurate relative to p even near its zeros, where 1/2 + Re sum(...) loses digits to cancellation."""
        a = self.coefficients.to(x.dtype)  # (C, N + 1, 2)
        k = torch.arange(a.shape[1], device=x.device, dtype=x.dtype)
        phase = math.pi * x[..., None] * k  # (..., C, N + 1)
        cos, sin = torch.cos(phase), torch.sin(phase)
        real = (a[..., 0] * cos + a[..., 1] * sin).sum(-1)  # Re sum_k a_k e^{-i phase}
        imag = (a[..., 1] * cos - a[..., 0] * sin).sum(-1)
        return (real**2 + imag**2) / (2 * a.pow(2).sum((-1, -2)))

    def _mean_on_interval(self, m: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
        """Mean of p over [m - dx/2, m + dx/2]: 1/2 + sum_n Re[(c_n/c_0) e^{i pi n m}] sinc(n dx / 2)."""
        ratio = self.autocorrelation()  # (C, N)
        n = self._frequencies(m.dtype)  # (N,)
        phase = math.pi * m[..., None] * n  # (..., C, N)
        real = ratio.real.to(m.dtype) * torch.cos(phase) - ratio.imag.to(m.dtype) * torch.sin(phase)
        return 0.5 + (real * torch.sinc(dx[..., None] * n / 2)).sum(-1)

    # -- the real line ---------------------------------------------------------------------------------------

    @property
    def scale(self) -> torch.Tensor:
        return self.log_scale.exp()

    def _u(self, y: torch.Tensor) -> torch.Tensor:
        return ((y - self.offset.to(y.dtype)) / self.scale.to(y.dtype)).clamp(-U_MAX, U_MAX)

    def _log_prob(self, y: torch.Tensor) -> torch.Tensor:
        """log q(y) = log p(x) + log(1 - x^2) - log s, x = tanh((y - t) / s); shape (..., C)."""
        u = (y - self.offset.to(y.dtype)) / self.scale.to(y.dtype)
        x = torch.tanh(u)
        log_jacobian = 2 * (math.log(2.0) - u.abs() - F.softplus(-2 * u.abs()))  # log(1 - tanh(u)^2), stable
        p = self.density_on_interval(x).clamp_min(torch.finfo(y.dtype).tiny)
        return torch.log(p) + log_jacobian - self.log_scale.to(y.dtype)

    def log_interval_mass(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """log q((a, b]) for a <= b of shape (..., C); a = -inf and b = inf are allowed."""
        a, b = self.check_interval(a, b)
        u_a, u_b = self._u(a), self._u(b)
        log_dx = log_tanh_difference(u_a, u_b)
        m, dx = (torch.tanh(u_a) + torch.tanh(u_b)) / 2, torch.exp(log_dx)
        mean = self._mean_on_interval(m, dx).clamp_min(torch.finfo(a.dtype).tiny)
        return log_dx + torch.log(mean)

    def interval_mass(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.log_interval_mass(a, b).exp()

    def _cdf(self, y: torch.Tensor) -> torch.Tensor:
        """q((-inf, y]); cdf(-inf) = 0, cdf(inf) = 1. Above the centre t it is 1 - q((y, inf)): each tail is
        then a small mass computed without cancellation, and the CDF stays monotone to the last bit."""
        inf = torch.full_like(y, math.inf)
        lower, upper = self.interval_mass(-inf, y), self.interval_mass(y, inf)
        return torch.where(y <= self.offset.to(y.dtype), lower, 1 - upper)

    # -- training and sampling --------------------------------------------------------------------------------

    def regularizer(self) -> torch.Tensor:
        n = self._frequencies(torch.float32)
        return (n**2 * self.autocorrelation().abs() ** 2).sum()

    def penalty(self) -> torch.Tensor | None:
        return self.config.regularization * self.regularizer() if self.config.regularization else None

    def inverse_cdf(self, target: torch.Tensor, tol: float = 1e-6) -> torch.Tensor:
        """y with cdf(y) = target (n, C), solved on [-1, 1] in float64 by bracketing on a grid of 8N + 2
        points, then safeguarded Newton (``invert_cdf``) to ``tol`` in x."""
        device = self.coefficients.device
        C = self.config.channels
        grid = torch.linspace(-1, 1, 8 * self.config.num_frequencies + 2, device=device, dtype=torch.float64)
        grid_cdf = self._cdf_on_interval(grid[:, None].expand(-1, C))  # (G, C), increasing from 0 to 1
        k = torch.searchsorted(grid_cdf.T.contiguous(), target.T.contiguous()).T.clamp(1, len(grid) - 1)  # (n, C)
        x = invert_cdf(self._cdf_on_interval, self.density_on_interval, target, grid[k - 1], grid[k], tol)
        x = x.clamp(-1 + 1e-16, 1 - 1e-16)
        y = self.offset.double() + self.scale.double() * torch.atanh(x)
        return y.to(self.coefficients.dtype)

    def _cdf_on_interval(self, x: torch.Tensor) -> torch.Tensor:
        """F(x) = int_{-1}^x p for x of shape (..., C) in [-1, 1]."""
        return (x + 1) * self._mean_on_interval((x - 1) / 2, x + 1)
