"""NADE: the Neural Autoregressive Distribution Estimator (Larochelle & Murray 2011).

p(x_d = 1 | x_<d) = sigmoid(b_d + V_d . h_d),  h_d = sigmoid(a_d),  a_d = c + W[:, <d] x_<d   (eq. 4-5)

The hidden pre-activations share W across d, so a_{d+1} = a_d + W[:, d] x_d: the likelihood of all D
conditionals costs O(DH) (an exclusive cumulative sum over d), and so does sampling.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genzoo.models.autoregressive.base import BinaryAutoregressiveModel
from genzoo.registry import register_model


@dataclass
class NADEConfig:
    image_shape: tuple[int, ...] = (1, 28, 28)
    hidden: int = 500


@register_model("nade")
class NADE(BinaryAutoregressiveModel):
    config_class = NADEConfig

    def __init__(self, config: NADEConfig):
        super().__init__(config)
        if config.hidden < 1:
            raise ValueError(f"NADE needs hidden >= 1, got {config.hidden}")
        D, H = self.num_pixels, config.hidden
        self.W = nn.Parameter(torch.randn(H, D) * 0.01)  # input -> hidden, shared over d
        self.c = nn.Parameter(torch.zeros(H))
        self.V = nn.Parameter(torch.randn(D, H) * 0.01)  # hidden -> output d
        self.b = nn.Parameter(torch.zeros(D))

    def conditional_logits(self, x: torch.Tensor, mask: int = 0) -> torch.Tensor:
        contrib = x[:, :, None] * self.W.T  # (B, D, H): W[:, d] x_d
        a = torch.cumsum(contrib, dim=1) - contrib + self.c  # (B, D, H): exclusive sum, a_d = c + W[:, <d] x_<d
        h = torch.sigmoid(a)
        return torch.einsum("bdh,dh->bd", h, self.V) + self.b  # (B, D)

    def _sample_incremental(self, u: torch.Tensor, mask: int) -> torch.Tensor:
        n, D = u.shape
        x = torch.zeros_like(u)
        a = self.c.expand(n, -1).clone()  # (n, H) = a_1
        for d in range(D):
            p = torch.sigmoid(torch.sigmoid(a) @ self.V[d] + self.b[d])  # (n,)
            x[:, d] = (u[:, d] < p).to(u.dtype)
            a += x[:, d, None] * self.W[:, d]  # a_{d+1} = a_d + W[:, d] x_d
        return x
