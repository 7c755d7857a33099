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

from genzoo.config import PositiveInt, UnitInterval
from genzoo.models.autoregressive.grid import GridAutoregressiveModel, GridConfig, RasterStepper
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
    dropout: UnitInterval = 0.0  # on the embeddings, the attention weights and each residual branch (GPT-2's three)
    training_only = frozenset({"dropout"})  # off in eval mode: a warm start may add or change it

    def __post_init__(self):
        super().__post_init__()
        if self.dim % self.heads or (self.dim // self.heads) % 4:
            raise ValueError(f"model.dim={self.dim} must split into {self.heads} heads of a size divisible by 4")


class Block(nn.Module):
    """x + attention(LN x), then x + MLP(LN x); with ``dropout``, each branch's output is dropped before it is
    added (Radford et al. 2019's residual dropout), and so are the attention weights (``attend``)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        d, self.heads = config.dim, config.heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, config.mlp_ratio * d), nn.GELU(), nn.Linear(config.mlp_ratio * d, d))
        self.drop = nn.Dropout(config.dropout)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
        """Scaled dot-product attention (B, heads, L, d_h), its weights dropped in training mode only."""
        p = self.drop.p if self.training else 0.0
        return F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=causal)

    def split(self, x: torch.Tensor):
        """(B, L, d) -> q, k, v of shape (B, heads, L, d / heads)."""
        return self.qkv(self.norm1(x)).unflatten(-1, (3, self.heads, -1)).permute(2, 0, 3, 1, 4)

    def finish(self, x: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.proj(attended.transpose(1, 2).flatten(2)))  # (B, L, d)
        return x + self.drop(self.mlp(self.norm2(x)))


@register_model("transformer")
class Transformer(GridAutoregressiveModel):
    config_class = TransformerConfig

    def __init__(self, config: TransformerConfig):
        super().__init__(config)
        c = config
        self.embed = nn.Embedding(c.categories + 1, c.dim)  # the last index is the start token
        self.embed_drop = nn.Dropout(c.dropout)
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
        x = self.embed_drop(x)
        for block in self.blocks:
            q, k, v = block.split(x)
            q, k = self.positioned(q, k, slots)
            x = block.finish(x, block.attend(q, k, v, causal=True))
        return self.out(self.norm(x))

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        return self(self.inputs(tokens)).transpose(1, 2).unflatten(-1, self.grid)  # (B, K, H, W)

    def stepper(self, n: int) -> KeyValueStepper:
        return KeyValueStepper(self)


class KeyValueStepper(RasterStepper):
    """One slot of work per position: each block's keys (rotated once, by their absolute position) and values
    are written into a cache allocated for the whole sequence, and the query of the new slot attends to its
    first t + 1 slots (a view: no cache is copied as it grows, which made sampling quadratic in memory traffic)."""

    def __init__(self, model: Transformer):
        super().__init__(model.grid)
        self.model, self.caches = model, [None] * len(model.blocks)  # per block: keys, values (n, heads, L, d_h)

    def step(self, tokens: torch.Tensor, r: int, c: int) -> torch.Tensor:
        m, t = self.model, self.t
        if self.previous is None:  # slot 0 reads the start token, slot t the token drawn at t - 1
            token = torch.full_like(tokens[:, 0, 0], m.categories)
        else:
            token = tokens[:, self.previous[0], self.previous[1]]
        x = m.embed_drop(m.embed(token))[:, None]  # (n, 1, d)
        slot = torch.tensor([t], device=x.device)
        for i, block in enumerate(m.blocks):
            q, k, v = block.split(x)  # (n, heads, 1, d_h)
            q, k = m.positioned(q, k, slot)
            if self.caches[i] is None:  # allocated at the first slot, in the dtype the projections give (autocast)
                shape = (k.shape[0], k.shape[1], m.num_positions, k.shape[3])
                self.caches[i] = (k.new_empty(shape), v.new_empty(shape))
            keys, values = self.caches[i]
            keys[:, :, t:t + 1] = k
            values[:, :, t:t + 1] = v
            x = block.finish(x, block.attend(q, keys[:, :, :t + 1], values[:, :, :t + 1], causal=False))
        return m.out(m.norm(x))[:, 0]
