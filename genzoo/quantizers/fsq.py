"""Finite Scalar Quantization (Mentzer, Minnen, Agustsson, Tschannen 2023, "Finite Scalar Quantization: VQ-VAE
Made Simple"): each of d channels is bounded and rounded to one of L_i levels; the implicit codebook is the grid
of prod(L_i) points, with no codebook to learn, no auxiliary loss and no dead codes."""
from __future__ import annotations

import math
from typing import Annotated

import torch
from torch import nn

from genzoo.config import Range, checked
from genzoo.quantizers.base import check_latents, code_statistics

# Levels recommended per codebook size (the paper's table 1).
FSQ_PRESETS = {
    2**8: (8, 6, 5),
    2**10: (8, 5, 5, 5),
    2**12: (7, 5, 5, 5, 5),
    2**14: (8, 8, 8, 6, 5),
    2**16: (8, 8, 8, 5, 5, 5),
}


class _BoundAndRound(torch.autograd.Function):
    """codes = round(bound(z)) / (L // 2) with the straight-through gradient of the rounding, as one autograd
    node: d codes / d z = h (1 - tanh^2(z + shift)) / (L // 2). Also returns the rounded integers and the
    bounded values (no gradient)."""

    @staticmethod
    def forward(ctx, z, shift, half, offset, half_width):
        t = torch.tanh(z + shift)
        bounded = t * half - offset
        rounded = torch.round(bounded)
        ctx.save_for_backward(t, half / half_width)
        ctx.mark_non_differentiable(rounded, bounded)
        return rounded / half_width, rounded, bounded

    @staticmethod
    def backward(ctx, grad_codes, _grad_rounded, _grad_bounded):
        t, factor = ctx.saved_tensors
        return grad_codes * factor * (1 - t * t), None, None, None, None


class FSQ(nn.Module):
    """forward(z (..., d)) -> (codes, indices, info); codes lie on the grid {-1, ..., 1} per channel (levels
    spaced 1 / (L_i // 2)), indices in [0, prod(L)), info as for VectorQuantizer (``loss`` is 0).

    bound (paper, appendix A.1): z -> tanh(z + shift) * h - offset with h = (L - 1)(1 - eps) / 2,
    offset = 1/2 for even L (so an even number of integers lies in the range) and shift = atanh(offset / h)
    (so bound(0) = 0). Rounding uses straight-through gradients. Computed in float32 under autocast.
    """

    def __init__(self, levels, eps: float = 1e-3):
        super().__init__()
        levels = checked("FSQ", "levels", levels, tuple[Annotated[int, Range(ge=2)], ...])  # "855", 2.5: errors
        if not levels:
            raise ValueError("FSQ levels must be a non-empty list of integers >= 2, got []")
        self.levels, self.eps = levels, checked("FSQ", "eps", eps, Annotated[float, Range(gt=0, lt=1)])
        self.dim, self.codebook_size = len(levels), math.prod(levels)
        L = torch.tensor(levels, dtype=torch.float32)
        half = (L - 1) * (1 - eps) / 2
        offset = torch.where(L % 2 == 0, 0.5, 0.0)
        self.register_buffer("_levels", L, persistent=False)
        self.register_buffer("_half_width", torch.div(L, 2, rounding_mode="floor"), persistent=False)
        self.register_buffer("_half", half, persistent=False)  # h
        self.register_buffer("_offset", offset, persistent=False)
        self.register_buffer("_shift", torch.atanh(offset / half), persistent=False)
        basis = torch.cumprod(torch.tensor((1,) + levels[:-1], dtype=torch.long), 0)
        self.register_buffer("_basis", basis, persistent=False)  # mixed-radix place values

    @classmethod
    def from_codebook_size(cls, codebook_size: int, **kwargs) -> "FSQ":
        if codebook_size not in FSQ_PRESETS:
            raise ValueError(f"no FSQ preset for codebook size {codebook_size}; presets: {sorted(FSQ_PRESETS)}")
        return cls(FSQ_PRESETS[codebook_size], **kwargs)

    def describe(self) -> str:
        """A short name for results tables."""
        return f"FSQ {list(self.levels)}"

    def extra_repr(self) -> str:
        return f"levels={list(self.levels)}, codebook_size={self.codebook_size}"

    def bound(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z + self._shift) * self._half - self._offset

    def forward(self, z: torch.Tensor):
        check_latents(z, self.dim, "FSQ")
        with torch.autocast(device_type=z.device.type, enabled=False):
            codes, rounded, bounded = _BoundAndRound.apply(z.float(), self._shift, self._half, self._offset,
                                                           self._half_width)
            indices = ((rounded + self._half_width).long() * self._basis).sum(-1)
            quant_error = ((bounded - rounded) / self._half_width).pow(2).sum(-1).mean()
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
