"""What the 1-D density models share: input checks, the likelihood loss, metrics, masses and sampling."""
from __future__ import annotations

import copy

import torch

from genzoo.models.base import GenerativeModel
from genzoo.models.density.inversion import invert_cdf


class Density1D(GenerativeModel):
    """C independent 1-D densities; values have shape (..., C) (channels last).

    Subclasses give ``log_prob`` and ``cdf``; the loss is the mean over points of the negative log-likelihood
    summed over channels (plus ``penalty()``), and ``sample`` inverts the CDF unless overridden.
    """

    @property
    def channels(self) -> int:
        return self.config.channels

    def check_values(self, y: torch.Tensor, allow_inf: bool = False) -> torch.Tensor:
        C = self.channels
        if not isinstance(y, torch.Tensor) or not y.is_floating_point():
            raise TypeError(f"expected a floating-point tensor of shape (..., {C}), got "
                            f"{y.dtype if isinstance(y, torch.Tensor) else type(y).__name__}")
        if y.dim() < 1 or y.shape[-1] != C:
            raise ValueError(f"expected values of shape (..., {C}) (channels last), got {tuple(y.shape)}")
        if torch.isnan(y).any() or (not allow_inf and torch.isinf(y).any()):
            raise ValueError("values must be finite" + ("" if not allow_inf else " or +-inf (not NaN)"))
        return y

    def penalty(self) -> torch.Tensor | None:
        return None

    def loss(self, batch: torch.Tensor):
        nll = -self.log_prob(batch).sum(-1).mean()  # channels are independent: their log-densities add
        penalty = self.penalty()
        return (nll if penalty is None else nll + penalty), {"nll": nll.detach()}

    def evaluation_metrics(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"nll": -self.log_prob(x).sum(-1)}

    def interval_mass(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """q((a, b]) as cdf(b) - cdf(a) (FourierDensity overrides it with a cancellation-free form)."""
        a, b = self.check_values(a, allow_inf=True), self.check_values(b, allow_inf=True)
        if (a > b).any():
            raise ValueError("interval_mass needs a <= b everywhere")
        return self.cdf(b) - self.cdf(a)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, tol: float = 1e-6) -> torch.Tensor:
        """n samples (n, C) by inverting the CDF in float64: brackets doubled out from [-1, 1] until they hold
        the target, then safeguarded Newton to ``tol``."""
        model = copy.deepcopy(self).double()  # float64 brackets and Newton steps, the model itself untouched
        device = next(self.parameters()).device
        target = torch.rand(n, self.channels, generator=generator, device=device, dtype=torch.float64)
        lo, hi = -torch.ones_like(target), torch.ones_like(target)
        for _ in range(1100):  # 2^1024 overflows float64: far beyond any usable scale
            low_ok, high_ok = model.cdf(lo) <= target, model.cdf(hi) >= target
            if bool(low_ok.all() and high_ok.all()):
                break
            lo, hi = torch.where(low_ok, lo, 2 * lo), torch.where(high_ok, hi, 2 * hi)
        y = invert_cdf(model.cdf, lambda v: model.log_prob(v).exp(), target, lo, hi, tol)
        return y.to(next(self.parameters()).dtype)
