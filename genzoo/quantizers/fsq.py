"""Finite Scalar Quantization (Mentzer, Minnen, Agustsson, Tschannen 2023, "Finite Scalar Quantization: VQ-VAE
Made Simple"): each of d channels is bounded and rounded to one of L_i levels; the implicit codebook is the grid
of prod(L_i) points, with no codebook to learn, no auxiliary loss and no dead codes."""
from __future__ import annotations

import math

import torch
from torch import nn

from genzoo.quantizers.base import check_latents, code_statistics

# Levels recommended per codebook size (the paper's table 1).
FSQ_PRESETS = {
    2**8: (8, 6, 5),
    2**10: (8, 5, 5, 5),
    2**12: (7, 5, 5, 5, 5),
    2**14: (8, 8, 8, 6, 5),
    2**16: (8, 8, 8, 5, 5, 5),
}


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """round(x) in the forward pass, identity gradient."""
    return x + (torch.round(x) - x).detach()


class FSQ(nn.Module):
    """forward(z (..., d)) -> (codes, indices, info); codes lie on the grid {-1, ..., 1} per channel (levels
    spaced 1 / (L_i // 2)), indices in [0, prod(L)), info as for VectorQuantizer (``loss`` is 0).

    bound (paper, appendix A.1): z -> tanh(z + shift) * h - offset with h = (L - 1)(1 - eps) / 2,
    offset = 1/2 for even L (so an even number of integers lies in the range) and shift = atanh(offset / h)
    (so bound(0) = 0). Rounding uses straight-through gradients. Computed in float32 under autocast.
    """

    def __init__(self, levels, eps: float = 1e-3):
        super().__init__()
        levels = tuple(int(l) for l in levels)
        if not levels or any(l < 2 for l in levels):
            raise ValueError(f"FSQ levels must be a non-empty list of integers >= 2, got {levels}")
        self.levels, self.eps = levels, eps
        self.dim, self.codebook_size = len(levels), math.prod(levels)
        L = torch.tensor(levels, dtype=torch.float32)
        self.register_buffer("_levels", L, persistent=False)
        self.register_buffer("_half_width", torch.div(L, 2, rounding_mode="floor"), persistent=False)
        basis = torch.cumprod(torch.tensor((1,) + levels[:-1], dtype=torch.long), 0)
        self.register_buffer("_basis", basis, persistent=False)  # mixed-radix place values

    @classmethod
    def from_codebook_size(cls, codebook_size: int, **kwargs) -> "FSQ":
        if codebook_size not in FSQ_PRESETS:
            raise ValueError(f"no FSQ preset for codebook size {codebook_size}; presets: {sorted(FSQ_PRESETS)}")
        return cls(FSQ_PRESETS[codebook_size], **kwargs)

    def extra_repr(self) -> str:
        return f"levels={list(self.levels)}, codebook_size={self.codebook_size}"

    def bound(self, z: torch.Tensor) -> torch.Tensor:
        half = (self._levels - 1) * (1 - self.eps) / 2
        offset = torch.where(self._levels % 2 == 0, 0.5, 0.0)
        shift = torch.atanh(offset / half)
        return torch.tanh(z + shift) * half - offset

    def forward(self, z: torch.Tensor):
        check_latents(z, self.dim, "FSQ")
        with torch.autocast(device_type=z.device.type, enabled=False):
            bounded = self.bound(z.float())
            codes = round_ste(bounded) / self._half_width  # (..., d) in [-1, 1]
            indices = self.codes_to_indices(codes.detach())
            quant_error = (bounded.detach() / self._half_width - codes.detach()).pow(2).sum(-1).mean()
            stats = code_statistics(indices, self.codebook_size)
        info = {"loss": torch.zeros((), device=z.device), "quant_error": quant_error,
                "perplexity": stats["perplexity"], "usage": stats["usage"]}
        return codes.to(z.dtype), indices, info

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        """Grid codes (..., d) -> integer indices (...)."""
        digits = torch.round(codes.float() * self._half_width + self._half_width).long()  # 0 .. L - 1
        return (digits * self._basis).sum(-1)

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """Integer indices (...) -> grid codes (..., d) (float32)."""
        if indices.dtype.is_floating_point or indices.dtype == torch.bool:
            raise TypeError(f"indices must be an integer tensor, got {indices.dtype}")
        if indices.numel() and (indices.min() < 0 or indices.max() >= self.codebook_size):
            raise ValueError(f"indices must lie in [0, {self.codebook_size}), got [{int(indices.min())}, {int(indices.max())}]")
        digits = torch.div(indices[..., None], self._basis, rounding_mode="floor") % self._levels.long()
        return (digits - self._half_width) / self._half_width

    lookup = indices_to_codes  # the same name as VectorQuantizer's
