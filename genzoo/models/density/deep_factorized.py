"""The deep factorized density of Balle, Minnen, Singh, Hwang, Johnston 2018 ("Variational image compression
with a scale hyperprior", appendix 6.1): a CDF built as a monotone network c(y) = f_K o ... o f_1(y),
    f_k(z) = g_k(H_k z + b_k) (k < K),  f_K(z) = sigmoid(H_K z + b_K),  g_k(z) = z + a_k * tanh(z),
with H_k = softplus(H^_k) > 0 and a_k = tanh(a^_k) > -1, so every f_k is increasing; the density is c'(y),
computed here by forward-mode chain rule alongside the value."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import Config, PositiveFloat, PositiveInt
from genzoo.models.density.base import Density1D
from genzoo.registry import register_model


@dataclass
class DeepFactorizedConfig(Config):
    filters: tuple[PositiveInt, ...] = (3, 3, 3)  # hidden widths; the paper's default (3, 3, 3) has 43 parameters
    channels: PositiveInt = 1
    init_scale: PositiveFloat = 10.0  # the initial CDF spreads over about [-init_scale, init_scale]


@register_model("deep_factorized1d")
class DeepFactorizedDensity(Density1D):
    config_class = DeepFactorizedConfig

    def __init__(self, config: DeepFactorizedConfig):
        super().__init__(config)
        if config.channels < 1 or any(f < 1 for f in config.filters):
            raise ValueError(f"channels and filters must be >= 1, got {config.channels}, {config.filters}")
        C = config.channels
        dims = (1, *config.filters, 1)
        # Initialization as in the paper's implementation: the composed map starts as a spread-out logistic.
        scale = config.init_scale ** (1 / (len(dims) - 1))
        self.matrices, self.biases, self.gates = nn.ParameterList(), nn.ParameterList(), nn.ParameterList()
        for k, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
            init = math.log(math.expm1(1 / scale / d_out))
            self.matrices.append(nn.Parameter(torch.full((C, d_out, d_in), init)))
            self.biases.append(nn.Parameter(torch.rand(C, d_out) - 0.5))
            if k < len(dims) - 2:
                self.gates.append(nn.Parameter(torch.zeros(C, d_out)))

    def _logits_and_log_slope(self, y: torch.Tensor):
        """The final pre-sigmoid logit z (..., C) and log dz/dy (..., C)."""
        z = y[..., None]  # (..., C, 1)
        log_dz = torch.zeros_like(z)  # log of the (positive) derivative of each unit w.r.t. y
        for k, (H, b) in enumerate(zip(self.matrices, self.biases)):
            H = F.softplus(H.to(y.dtype))  # (C, out, in), positive
            z_new = (H @ z[..., None])[..., 0] + b.to(y.dtype)  # (..., C, out)
            # d z_new / dy = H @ dz: positive sums, in log space
            log_dz = torch.logsumexp(torch.log(H) + log_dz[..., None, :], dim=-1)
            z = z_new
            if k < len(self.gates):
                a = torch.tanh(self.gates[k].to(y.dtype))
                t = torch.tanh(z)
                log_dz = log_dz + torch.log1p(a * (1 - t * t))  # g'(z) = 1 + a (1 - tanh^2 z) > 0
                z = z + a * t
        return z[..., 0], log_dz[..., 0]

    def _log_prob(self, y: torch.Tensor) -> torch.Tensor:
        """log c'(y) = log sigmoid'(z) + log dz/dy."""
        z, log_dz = self._logits_and_log_slope(y)
        return F.logsigmoid(z) + F.logsigmoid(-z) + log_dz

    def _cdf(self, y: torch.Tensor) -> torch.Tensor:
        z, _ = self._logits_and_log_slope(torch.nan_to_num(y, posinf=0.0, neginf=0.0))
        return torch.where(y == math.inf, 1.0, torch.where(y == -math.inf, 0.0, torch.sigmoid(z)))
