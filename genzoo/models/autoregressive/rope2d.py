"""Rotary position embeddings in two dimensions, for attention over a grid.

Axial form (Su Jianlin 2021, "Transformer upgrade road 4: rotary position embedding in two dimensions"): each
head's dimensions are split in two; the first half of the pairs is rotated by the row coordinate, the second by
the column, with RoPE's frequencies theta_j = base^(-j / pairs). A rotation R(p) satisfies
R(p)^T R(p') = R(p' - p), so q(p) . k(p') depends on (row offset, column offset) only.

Mixed form (Heo et al. 2024, "Rotary Position Embedding for Vision Transformer", eq. 12): every pair j of every
head is rotated by the angle f_x * row + f_y * col with learned (f_x, f_y); still a function of the offset.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def rotate_pairs(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate consecutive pairs (x_2j, x_2j+1) of ``x`` (..., L, D) by ``angles`` (..., L, D / 2)."""
    pairs = x.float().unflatten(-1, (-1, 2))  # (..., L, D/2, 2)
    cos, sin = angles.cos(), angles.sin()
    a, b = pairs[..., 0], pairs[..., 1]
    return torch.stack([a * cos - b * sin, a * sin + b * cos], -1).flatten(-2).to(x.dtype)


class Rope2D(nn.Module):
    """angles(rows, cols) -> (heads, L, head_dim / 2) for integer coordinates (L,)."""

    def __init__(self, heads: int, head_dim: int, mixed: bool = False, base: float = 100.0):
        super().__init__()
        if head_dim % 4:
            raise ValueError(f"2-D RoPE needs a head dimension divisible by 4 (two axes of pairs), got {head_dim}")
        pairs = head_dim // 2
        self.mixed = mixed
        freqs = base ** (-torch.arange(pairs // 2, dtype=torch.float32) / (pairs // 2))  # (pairs / 2,)
        if mixed:
            # start from the axial frequencies in a random direction per head and pair (Heo et al., sec. 3.3)
            theta = torch.rand(heads, pairs) * 2 * math.pi
            both = torch.cat([freqs, freqs]).expand(heads, pairs)
            self.fx = nn.Parameter(both * theta.cos())  # (heads, pairs)
            self.fy = nn.Parameter(both * theta.sin())
        else:
            zeros = torch.zeros_like(freqs)
            self.register_buffer("fx", torch.cat([freqs, zeros]).expand(heads, pairs).clone(), persistent=False)
            self.register_buffer("fy", torch.cat([zeros, freqs]).expand(heads, pairs).clone(), persistent=False)

    def angles(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        rows, cols = rows.float()[None, :, None], cols.float()[None, :, None]  # (1, L, 1)
        return rows * self.fx[:, None, :] + cols * self.fy[:, None, :]  # (heads, L, pairs)
