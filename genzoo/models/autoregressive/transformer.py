"""A decoder-only, pre-norm Transformer over the raster sequence of a token grid, with 2-D rotary positions.

The input at sequence position t is the token at t - 1 (a start token at t = 0) and the output at t gives the
logits of the token at t; queries and keys of slot t are rotated by the grid coordinates (row, col) of t
(``rope2d``), so attention scores depend on (row offset, column offset) only. Attention runs through
``torch.nn.functional.scaled_dot_product_attention`` (causal), with the usual 1/sqrt(d) scale or Su's
entropy-invariant log_512(n)/sqrt(d) (Su Jianlin 2021, "Looking at attention's scale from entropy
invariance"; n = the number of keys a query attends to, here t + 1).

Sampling keeps a key/value cache: one token of work per step, each key rotated by its absolute position
before it is cached (rotations compose, so a cached key needs no update later).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import PositiveInt
from genzoo.models.autoregressive.grid import GridAutoregressiveModel, GridConfig
from genzoo.models.autoregressive.rope2d import Rope2D, rotate_pairs
from genzoo.registry import register_model


@dataclass
class TransformerConfig(GridConfig):
    dim: PositiveInt = 128
    layers: PositiveInt = 4
    heads: PositiveInt = 4
    mlp_ratio: PositiveInt = 4
    rope: Literal["axial", "mixed"] = "axial"
    attention_scale: Literal["standard", "entropy"] = "standard"

    def __post_init__(self):
        super().__post_init__()
        if self.dim % self.heads or (self.dim // self.heads) % 4:
            raise ValueError(f"model.dim={self.dim} must split into {self.heads} heads of a size divisible by 4")


class Block(nn.Module):
    """x + attention(LN x), then x + MLP(LN x)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        d, self.heads = config.dim, config.heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, config.mlp_ratio * d), nn.GELU(), nn.Linear(config.mlp_ratio * d, d))

    def split(self, x: torch.Tensor):
        """(B, L, d) -> q, k, v of shape (B, heads, L, d / heads)."""
        return self.qkv(self.norm1(x)).unflatten(-1, (3, self.heads, -1)).permute(2, 0, 3, 1, 4)

    def finish(self, x: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        x = x + self.proj(attended.transpose(1, 2).flatten(2))  # (B, L, d)
        return x + self.mlp(self.norm2(x))


@register_model("transformer")
class Transformer(GridAutoregressiveModel):
    config_class = TransformerConfig

    def __init__(self, config: TransformerConfig):
        super().__init__(config)
        c = config
        self.embed = nn.Embedding(c.categories + 1, c.dim)  # the last index is the start token
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.layers))
        self.norm, self.out = nn.LayerNorm(c.dim), nn.Linear(c.dim, c.categories)
        self.rope = Rope2D(c.heads, c.dim // c.heads, mixed=c.rope == "mixed")
        H, W = self.grid
        t = torch.arange(H * W)
        self.register_buffer("rows", t // W, persistent=False)  # coordinates of each sequence slot
        self.register_buffer("cols", t % W, persistent=False)
        n = (t + 1).float()  # keys a query at t attends to
        query_scale = n.log() / math.log(512) if c.attention_scale == "entropy" else torch.ones_like(n)
        self.register_buffer("query_scale", query_scale, persistent=False)

    def inputs(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens (B, H, W) -> the embedded input sequence (B, L, d): start token, then tokens 0 .. L - 2."""
        flat = tokens.flatten(1)
        start = torch.full_like(flat[:, :1], self.categories)
        return self.embed(torch.cat([start, flat[:, :-1]], 1))

    def positioned(self, q: torch.Tensor, k: torch.Tensor, slots: torch.Tensor):
        """q, k (B, heads, L, d_h) of sequence slots ``slots`` (L,) rotated by their grid coordinates; q also
        carries the attention-scale factor of its slot."""
        angles = self.rope.angles(self.rows[slots], self.cols[slots])  # (heads, L, d_h / 2)
        q = rotate_pairs(q, angles) * self.query_scale[slots, None].to(q.dtype)
        return q, rotate_pairs(k, angles)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embedded inputs (B, L, d) -> logits (B, L, K); a float input, so tests can take gradients."""
        slots = torch.arange(x.shape[1], device=x.device)
        for block in self.blocks:
            q, k, v = block.split(x)
            q, k = self.positioned(q, k, slots)
            x = block.finish(x, F.scaled_dot_product_attention(q, k, v, is_causal=True))
        return self.out(self.norm(x))

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        return self(self.inputs(tokens)).transpose(1, 2).unflatten(-1, self.grid)  # (B, K, H, W)

    @torch.no_grad()
    def cached_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """The logits of ``tokens`` computed one slot at a time through the key/value cache (B, K, H, W): equal to
        ``logits`` (a test pins it), the path ``sample`` takes."""
        step = self.cached_stepper(tokens.shape[0])
        x = self.inputs(tokens)
        return torch.stack([step(x[:, t]) for t in range(self.num_positions)], -1).unflatten(-1, self.grid)

    def cached_stepper(self, batch: int):
        """A function: embedded input of the next slot (B, d) -> its logits (B, K), keeping the cache."""
        caches = [([], []) for _ in self.blocks]
        slot = {"t": 0}

        def step(x: torch.Tensor) -> torch.Tensor:
            t = torch.tensor([slot["t"]], device=x.device)
            x = x[:, None]  # (B, 1, d)
            for block, (keys, values) in zip(self.blocks, caches):
                q, k, v = block.split(x)
                q, k = self.positioned(q, k, t)  # the key is rotated once, by its absolute position, then cached
                keys.append(k)
                values.append(v)
                x = block.finish(x, F.scaled_dot_product_attention(q, torch.cat(keys, 2), torch.cat(values, 2)))
            slot["t"] += 1
            return self.out(self.norm(x))[:, 0]

        return step

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` exact samples through the key/value cache: one token of work per position."""
        n = self.check_sample_count(n)
        u = self.sampling_noise(n, generator).flatten(1)  # (n, L)
        step = self.cached_stepper(n)
        token = torch.full((n,), self.categories, dtype=torch.long, device=self.device)  # the start token
        drawn = []
        for t in range(self.num_positions):
            token = self.draw(step(self.embed(token)), u[:, t])
            drawn.append(token)
        return self.to_output(torch.stack(drawn, 1).view(n, *self.grid))
