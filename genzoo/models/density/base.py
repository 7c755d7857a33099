"""What the 1-D density models share: input checks, the likelihood loss, metrics, masses and sampling."""
from __future__ import annotations

import copy
from pathlib import Path

import torch

from genzoo.models.base import GenerativeModel
from genzoo.models.density.inversion import invert_cdf
from genzoo.results import ResultsTable, fmt

DENSITY_TABLE = ResultsTable(
    "density1d",
    (("checkpoint", "l"), ("model", "l"), ("parameters", "r"), ("target", "l"), ("test NLL (nats)", "r"),
     ("KL(target \\|\\| model)", "r")),
    order=20)


class Density1D(GenerativeModel):
    """C independent 1-D densities; values have shape (..., C) (channels last).

    Subclasses give ``log_prob`` and ``cdf``; the loss is the mean over points of the negative log-likelihood
    summed over channels (plus ``penalty()``), and ``sample`` inverts the CDF unless overridden. The preview
    plots the density over a histogram of real data; the results table adds the exact KL to a known target.
    """

    results_table = DENSITY_TABLE

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

    def check_interval(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Interval ends (..., C) that broadcast together, a <= b, +-inf allowed; else a ValueError naming them."""
        a, b = self.check_values(a, allow_inf=True), self.check_values(b, allow_inf=True)
        try:
            torch.broadcast_shapes(a.shape, b.shape)
        except RuntimeError:
            raise ValueError(f"interval ends of shapes {tuple(a.shape)} and {tuple(b.shape)} do not broadcast "
                             "together") from None
        if (a > b).any():
            raise ValueError("interval_mass needs a <= b everywhere")
        return a, b

    # --- what a subclass provides: log q and the CDF on checked values, in float32 or float64 ------------------
    def _log_prob(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _cdf(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def _working_dtype(y: torch.Tensor) -> torch.Tensor:
        """bfloat16 / float16 values are computed in float32: a bf16 CDF is off by up to 0.1."""
        return y.float() if torch.finfo(y.dtype).bits < 32 else y

    def log_prob(self, y: torch.Tensor) -> torch.Tensor:
        """log q(y) in nats, the shape of ``y`` (..., C) and its dtype."""
        y = self.check_values(y)
        if y.numel() == 0:  # none in, none out (a mixture's reshape cannot infer its sizes from no values)
            return torch.empty_like(y)
        return self._log_prob(self._working_dtype(y)).to(y.dtype)

    def cdf(self, y: torch.Tensor) -> torch.Tensor:
        """q((-inf, y]) in [0, 1] (rounding clamped), the shape of ``y`` (..., C) and its dtype; +-inf allowed."""
        y = self.check_values(y, allow_inf=True)
        if y.numel() == 0:
            return torch.empty_like(y)
        return self._cdf(self._working_dtype(y)).clamp(0, 1).to(y.dtype)

    def penalty(self) -> torch.Tensor | None:
        return None

    def loss(self, batch: torch.Tensor):
        nll = -self.log_prob(self.check_nonempty(self.check_values(batch))).sum(-1).mean()  # channels are independent: their log-densities add
        penalty = self.penalty()
        return (nll if penalty is None else nll + penalty), {"nll": nll.detach()}

    def evaluation_metrics(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"nll": -self.log_prob(x).sum(-1)}

    def interval_mass(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """q((a, b]) as cdf(b) - cdf(a) (FourierDensity overrides it with a cancellation-free form)."""
        a, b = self.check_interval(a, b)
        return self.cdf(b) - self.cdf(a)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, tol: float = 1e-6) -> torch.Tensor:
        """n exact samples (n, C): uniforms pushed through the inverse CDF, in float64 whatever autocast says
        (a bf16 CDF would be off by far more than ``tol``)."""
        n = self.check_sample_count(n)
        target = self.rand(n, self.channels, generator=generator, dtype=torch.float64)
        with torch.autocast(self.device.type, enabled=False):
            return self.inverse_cdf(target, tol)

    def inverse_cdf(self, target: torch.Tensor, tol: float = 1e-6) -> torch.Tensor:
        """y with cdf(y) = target (n, C), in float64: brackets doubled out from [-1, 1] until they hold the
        target, then safeguarded Newton to ``tol``."""
        model = copy.deepcopy(self).double()  # float64 brackets and Newton steps, the model itself untouched
        lo, hi = -torch.ones_like(target), torch.ones_like(target)
        for _ in range(1100):  # 2^1024 overflows float64: far beyond any usable scale
            low_ok, high_ok = model.cdf(lo) <= target, model.cdf(hi) >= target
            if bool(low_ok.all() and high_ok.all()):
                break
            lo, hi = torch.where(low_ok, lo, 2 * lo), torch.where(high_ok, hi, 2 * hi)
        y = invert_cdf(model.cdf, lambda v: model.log_prob(v).exp(), target, lo, hi, tol)
        return y.to(next(self.parameters()).dtype)

    @torch.no_grad()
    def write_preview(self, path, n: int = 64, seed: int = 0, reference=None) -> Path:
        """The fitted density over a histogram of the ``reference()`` split (and the true density of a named
        target), with the CDFs beside; ``n`` and ``seed`` do not apply."""
        from genzoo.plotting import plot_density

        if reference is None:
            raise ValueError("a 1-D density preview plots the model over data and needs a reference split")
        split = reference()
        values = split.head(len(split))[:, 0].double().numpy()
        return plot_density(self, values, Path(path), Path(path).stem, getattr(split, "target", None))

    def headline(self, report) -> tuple[str, str]:
        target = getattr(report.dataset, "exact_target", None)
        # the pipes escaped: this is a markdown table's cell
        kl = f", KL(target \\|\\| model) {fmt(self.kl_to_target(target), 5)}" if target else ""
        return f"NLL {fmt(report.test['nll'], 4)} nats{kl}", "-"

    def results_row(self, report) -> list[str]:
        target = getattr(report.dataset, "exact_target", None)
        return [f"`{report.name}`", self.architecture, f"{self.num_parameters():,}",
                getattr(report.dataset, "target", report.dataset.describe()), fmt(report.test["nll"], 4),
                fmt(self.kl_to_target(target), 5) if target else "-"]

    def kl_to_target(self, target: str) -> float:
        """KL(target || model) in nats by quadrature (genzoo.data.toy1d.kl_divergence), in float64."""
        from genzoo.data import toy1d

        model = copy.deepcopy(self).double().cpu()
        with torch.no_grad():
            return toy1d.kl_divergence(target, lambda y: model.log_prob(torch.from_numpy(y)[:, None])[:, 0].numpy())
