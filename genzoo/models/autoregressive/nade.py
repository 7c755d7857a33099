"""NADE: the Neural Autoregressive Distribution Estimator (Larochelle & Murray 2011).

p(x_d = 1 | x_<d) = sigmoid(b_d + V_d . h_d),  h_d = sigmoid(a_d),  a_d = c + W[:, <d] x_<d   (eq. 4-5)

The hidden pre-activations share W across d, so a_{d+1} = a_d + W[:, d] x_d: the likelihood of all D
conditionals costs O(DH), and so does sampling.

Two passes compute the D logits with hand-written backwards (``config.form``): ``per_pixel`` walks the pixels
one at a time on a (B, H) running a that stays in cache and keeps each h_d for the backward (D*B*H floats);
``blocked`` keeps only one (B, H) start per block of pixels and recomputes h in the backward (little memory,
2-5x slower: it does block-times the work per pixel and computes the sigmoid twice; bench/peer_training.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from genzoo.config import Config, PositiveInt
from genzoo.models.autoregressive.base import BinaryAutoregressiveModel
from genzoo.registry import register_model


@dataclass
class NADEConfig(Config):
    image_shape: tuple[PositiveInt, ...] = (1, 28, 28)
    hidden: PositiveInt = 500
    form: Literal["per_pixel", "blocked"] = "per_pixel"  # the training pass: fast, or lean in memory (see above)
    block: PositiveInt = 8  # pixels per chunk of the blocked form: the (B, block, H) work stays in cache


def nade_logits_cumsum(x, W, c, V, b):
    """Eq. 4-5 written directly, a = c + exclusive cumsum over d of x_d W[:, d]: the reference form.

    Autograd through it saves several (B, D, H) tensors; ``_PerPixelLogits`` and ``_BlockedLogits`` compute
    the same. Kept for the tests and bench/, which compare them.
    """
    contrib = x[:, :, None] * W.T  # (B, D, H)
    a = torch.cumsum(contrib, dim=1) - contrib + c
    return torch.einsum("bdh,dh->bd", torch.sigmoid(a), V) + b  # (B, D)


def _strictly_lower(k: int, like: torch.Tensor) -> torch.Tensor:
    return torch.ones(k, k, dtype=like.dtype, device=like.device).tril(-1)  # [i, j] = 1 where j < i


def _block_pre_activations(x_block, W_T_block, a_start):
    """a_i = a_start + sum_{j < i in the block} x_j W[:, j] for the pixels of one block: (B, K, H)."""
    B, K = x_block.shape
    within = (x_block[:, None, :] * _strictly_lower(K, x_block)).reshape(B * K, K) @ W_T_block  # (B*K, H)
    return a_start[:, None, :] + within.view(B, K, -1)


def _per_pixel_pass(x_T, W_T, c, V, keep: list | None) -> torch.Tensor:
    """(D, B) logits less b, walking a_{d+1} = a_d + x_d W[:, d] on one (B, H) tensor; h_d appended to ``keep``.

    Each h_d is its own (B, H) tensor on purpose: one (D, B, H) block would be a fresh mmap every step, and the
    page faults of its first write cost more than the sigmoids (measured 2 ms against 0.25 ms per pixel at
    B = 512, H = 500); blocks of this size come back from the allocator's free list.
    """
    D, B = x_T.shape
    logits = x_T.new_empty(D, B)
    a = c.expand(B, -1).clone()  # (B, H) = a_1
    h = None
    for d in range(D):
        h = torch.sigmoid(a) if keep is not None or h is None else torch.sigmoid(a, out=h)  # (B, H) = h_d
        torch.mv(h, V[d], out=logits[d])
        if keep is not None:
            keep.append(h)
        a.addr_(x_T[d], W_T[d])  # a_{d+1}
    return logits


class _PerPixelLogits(torch.autograd.Function):
    """All D conditional logits of NADE (eq. 4-5), pixel by pixel, keeping every h_d for a hand-written backward.

    The backward walks the pixels in reverse carrying ``later``, the sum of dL/da over the pixels after d: what
    x_d W[:, d] receives (it enters every later a), and, summed over all pixels, what c receives. Checked
    against the cumsum form with ``torch.autograd.gradcheck`` in tests.
    """

    @staticmethod
    def forward(ctx, x, W, c, V, b):
        x_T, W_T = x.t().contiguous(), W.t().contiguous()  # (D, B), (D, H): row d is pixel d / W[:, d]
        hidden = []
        logits = _per_pixel_pass(x_T, W_T, c, V, hidden)
        ctx.save_for_backward(x_T, W_T, V, *hidden)  # saved tensors: autograd frees them after the backward
        return logits.t() + b  # (B, D)

    @staticmethod
    def backward(ctx, grad_logits):
        x_T, W_T, V, *hidden = ctx.saved_tensors
        D, B = x_T.shape
        g_T = grad_logits.t().contiguous()  # (D, B)
        grad_W_T, grad_V = torch.empty_like(W_T), torch.empty_like(V)
        grad_x_T = torch.empty_like(x_T) if ctx.needs_input_grad[0] else None
        later = x_T.new_zeros(B, W_T.shape[1])  # (B, H): sum of dL/da over the pixels after d
        grad_a = torch.empty_like(later)
        for d in reversed(range(D)):
            h = hidden[d]  # (B, H)
            torch.mv(h.t(), g_T[d], out=grad_V[d])
            torch.mv(later.t(), x_T[d], out=grad_W_T[d])
            if grad_x_T is not None:
                torch.mv(later, W_T[d], out=grad_x_T[d])
            torch.mul(h, h, out=grad_a)
            torch.sub(h, grad_a, out=grad_a).mul_(g_T[d, :, None]).mul_(V[d])  # dL/da_d = g_d V_d h (1 - h)
            later.add_(grad_a)
        grad_x = None if grad_x_T is None else grad_x_T.t()
        return grad_x, grad_W_T.t(), later.sum(0), grad_V, grad_logits.sum(0)


class _BlockedLogits(torch.autograd.Function):
    """All D conditional logits of NADE (eq. 4-5), walked block by block with a hand-written backward.

    The plain form, a = c + exclusive cumsum over d of x_d W[:, d], materializes and saves several (B, D, H)
    tensors (157 MB each at B = 100) and is memory bound. Here each block of ``block`` pixels starts from the
    running a of the previous ones, only those (B, H) starting points are saved, and the backward pass
    recomputes each block's h while walking the blocks in reverse, carrying the sum of dL/da over all later
    pixels (which is what every earlier x_j W[:, j] and c receive). Checked against the cumsum form with
    ``torch.autograd.gradcheck`` in tests.
    """

    @staticmethod
    def forward(ctx, x, W, c, V, b, block):
        B, D = x.shape
        W_T = W.t()  # (D, H)
        starts = range(0, D, block)
        logits = x.new_empty(B, D)
        a_starts = x.new_empty(len(starts), B, W.shape[0])  # (blocks, B, H)
        a = c.expand(B, -1)
        for k, s in enumerate(starts):
            e = min(s + block, D)
            h = torch.sigmoid(_block_pre_activations(x[:, s:e], W_T[s:e], a))  # (B, K, H)
            logits[:, s:e] = torch.einsum("bkh,kh->bk", h, V[s:e]) + b[s:e]
            a_starts[k] = a
            a = a + x[:, s:e] @ W_T[s:e]
        ctx.save_for_backward(x, W, V, a_starts)
        ctx.block = block
        return logits

    @staticmethod
    def backward(ctx, grad_logits):
        x, W, V, a_starts = ctx.saved_tensors
        block, (B, D) = ctx.block, x.shape
        W_T = W.t()
        grad_W_T, grad_V = torch.empty_like(W_T), torch.empty_like(V)
        grad_x = torch.empty_like(x) if ctx.needs_input_grad[0] else None
        later = x.new_zeros(B, W.shape[0])  # (B, H): sum of dL/da over the pixels of all later blocks
        for k in reversed(range(len(a_starts))):
            s = k * block
            e = min(s + block, D)
            h = torch.sigmoid(_block_pre_activations(x[:, s:e], W_T[s:e], a_starts[k]))  # (B, K, H)
            g = grad_logits[:, s:e]  # (B, K)
            grad_V[s:e] = torch.einsum("bk,bkh->kh", g, h)
            grad_a = g[:, :, None] * V[s:e] * (h * (1 - h))  # (B, K, H)
            # what x_j W[:, j] receives: dL/da summed over every pixel after j
            after = later[:, None, :] + _strictly_lower(e - s, x).t() @ grad_a  # (B, K, H)
            grad_W_T[s:e] = torch.einsum("bj,bjh->jh", x[:, s:e], after)
            if grad_x is not None:
                grad_x[:, s:e] = torch.einsum("bjh,jh->bj", after, W_T[s:e])
            later = later + grad_a.sum(1)
        return grad_x, grad_W_T.t(), later.sum(0), grad_V, grad_logits.sum(0), None


@register_model("nade")
class NADE(BinaryAutoregressiveModel):
    config_class = NADEConfig

    def __init__(self, config: NADEConfig):
        super().__init__(config)
        if config.hidden < 1:
            raise ValueError(f"NADE needs hidden >= 1, got {config.hidden}")
        if config.block < 1:
            raise ValueError(f"NADE needs block >= 1, got {config.block}")
        D, H = self.num_pixels, config.hidden
        self.W = nn.Parameter(torch.randn(H, D) * 0.01)  # input -> hidden, shared over d
        self.c = nn.Parameter(torch.zeros(H))
        self.V = nn.Parameter(torch.randn(D, H) * 0.01)  # hidden -> output d
        self.b = nn.Parameter(torch.zeros(D))

    def conditional_logits(self, x: torch.Tensor, mask: int = 0) -> torch.Tensor:
        params = (self.W, self.c, self.V, self.b)
        if not torch.is_grad_enabled() or not any(t.requires_grad for t in (x, *params)):
            return _per_pixel_pass(x.t().contiguous(), self.W.t().contiguous(), self.c, self.V, None).t() + self.b
        if self.config.form == "blocked":
            return _BlockedLogits.apply(x, *params, self.config.block)  # (B, D)
        return _PerPixelLogits.apply(x, *params)  # (B, D)

    def _sample_incremental(self, u: torch.Tensor, mask: int) -> torch.Tensor:
        n, D = u.shape
        x = torch.zeros_like(u)
        a = self.c.expand(n, -1).clone()  # (n, H) = a_1
        for d in range(D):
            p = torch.sigmoid(torch.sigmoid(a) @ self.V[d] + self.b[d])  # (n,)
            x[:, d] = (u[:, d] < p).to(u.dtype)
            a += x[:, d, None] * self.W[:, d]  # a_{d+1} = a_d + W[:, d] x_d
        return x
