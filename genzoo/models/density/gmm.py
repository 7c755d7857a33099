"""Gaussian mixture fit by gradient: the baseline a Fourier density is compared with at equal parameter count
(3K real parameters per channel: mixture logits, means, log-scales)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import distributions as D
from torch import nn

from genzoo.config import Config, PositiveFloat, PositiveInt
from genzoo.models.density.base import Density1D
from genzoo.registry import register_model


@dataclass
class GaussianMixtureConfig(Config):
    components: PositiveInt = 10  # K
    channels: PositiveInt = 1
    init_spread: PositiveFloat = 1.0  # initial means ~ N(0, spread^2), scales = spread


@register_model("gmm1d")
class GaussianMixture(Density1D):
    config_class = GaussianMixtureConfig

    def __init__(self, config: GaussianMixtureConfig):
        super().__init__(config)
        if config.components < 1 or config.channels < 1:
            raise ValueError(f"components and channels must be >= 1, got {config.components}, {config.channels}")
        C, K = config.channels, config.components
        self.logits = nn.Parameter(torch.zeros(C, K))
        self.means = nn.Parameter(torch.randn(C, K) * config.init_spread)
        self.log_scales = nn.Parameter(torch.full((C, K), float(torch.tensor(config.init_spread).log())))

    def distribution(self) -> D.MixtureSameFamily:
        """torch.distributions mixture with batch shape (C,)."""
        return D.MixtureSameFamily(D.Categorical(logits=self.logits), D.Normal(self.means, self.log_scales.exp()))

    def _log_prob(self, y: torch.Tensor) -> torch.Tensor:
        return self.distribution().log_prob(y)

    def _cdf(self, y: torch.Tensor) -> torch.Tensor:
        # Normal.cdf rejects infinities under validation; the limits are exact
        finite = self.distribution().cdf(torch.nan_to_num(y, posinf=0.0, neginf=0.0))
        return torch.where(y == float("inf"), 1.0, torch.where(y == float("-inf"), 0.0, finite))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, tol: float = 0.0) -> torch.Tensor:
        """Exact ancestral sampling: a component by its weight, then its Gaussian."""
        n, C = self.check_sample_count(n), self.channels
        probs = torch.softmax(self.logits, -1)  # (C, K)
        which = torch.multinomial(probs, n, replacement=True, generator=generator).T  # (n, C)
        channel = torch.arange(C, device=which.device)
        noise = torch.randn(n, C, generator=generator, device=which.device, dtype=self.means.dtype)
        return self.means[channel, which] + self.log_scales.exp()[channel, which] * noise
