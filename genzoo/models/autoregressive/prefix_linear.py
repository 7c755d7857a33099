"""A masked linear layer that skips the products its mask zeroes, for masks whose rows are prefixes.

A MADE in raster order with its hidden units sorted by degree has masks of this shape in every layer: unit k
sees the inputs of degree <= m(k), output d the units of degree < d. Row r of such a mask is
[1, ..., 1, 0, ..., 0] with ``lengths[r]`` ones. Cut the rows into a few contiguous blocks: within block
rows r0:r1, the columns < c0 = min(lengths) are all connected, c0:c1 (c1 = max(lengths)) go through the mask,
and none after c1. The product ``x @ (weight * mask).T`` then costs about half the dense one, and only the
narrow c0:c1 edge of each block is ever multiplied by the mask (bench/peer_training.py times it).
"""
from __future__ import annotations

import torch

Block = tuple[int, int, int, int]  # rows r0:r1, fully connected columns :c0, masked columns c0:c1


def prefix_blocks(mask: torch.Tensor, groups: int | None = None, max_share: float = 0.75) -> tuple[Block, ...] | None:
    """Row blocks of a (out, in) 0/1 ``mask`` whose every row is a prefix of ones, or None.

    ``groups`` blocks: more skip more of the zero half (each block's edge is ~1/groups of its row range) but
    each costs a dozen small calls; by default 4 up to 2^20 weights, 8 above (measured best at 784 x 500
    and 784 x 8000 on one thread, batch 64 and 512). None also when the blocks would still compute more than
    ``max_share`` of the dense products (rows of very different lengths in one block).
    """
    out_features, in_features = mask.shape
    groups = groups or (4 if mask.numel() <= 2**20 else 8)
    lengths = (mask != 0).sum(1)  # (out,)
    prefix = torch.arange(in_features, device=mask.device) < lengths[:, None]  # (out, in)
    if not torch.equal(mask != 0, prefix):
        return None
    lengths, step = lengths.tolist(), -(-out_features // groups)
    blocks = tuple((r0, min(r0 + step, out_features), min(lengths[r0:r0 + step]), max(lengths[r0:r0 + step]))
                   for r0 in range(0, out_features, step))
    computed = sum((r1 - r0) * c1 for r0, r1, _, c1 in blocks)
    return blocks if computed <= max_share * out_features * in_features else None


class _PrefixMaskedLinear(torch.autograd.Function):
    """``F.linear(x, weight * mask, bias)`` over the blocks of ``prefix_blocks(mask)`` only.

    Outputs are written transposed, (out, B), so each block's rows are contiguous; the weight gradient is
    written block by block (zero where the mask is), the input gradient only where some row reads it.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, mask, blocks):
        x_T = x.t()  # (in, B)
        out_T = x.new_empty(weight.shape[0], x.shape[0])  # (out, B)
        edges = []
        for r0, r1, c0, c1 in blocks:
            edge = weight[r0:r1, c0:c1] * mask[r0:r1, c0:c1]  # the only masked part of the block
            if bias is None:
                torch.mm(weight[r0:r1, :c0], x_T[:c0], out=out_T[r0:r1])
            else:
                torch.addmm(bias[r0:r1, None], weight[r0:r1, :c0], x_T[:c0], out=out_T[r0:r1])
            out_T[r0:r1].addmm_(edge, x_T[c0:c1])
            edges.append(edge)
        ctx.blocks, ctx.has_bias = blocks, bias is not None
        ctx.save_for_backward(x, weight, mask, *edges)
        return out_T.t()  # (B, out)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, mask, *edges = ctx.saved_tensors
        g_T = grad_out.t().contiguous()  # (out, B)
        grad_weight = torch.empty_like(weight)
        grad_x_T = x.new_zeros(x.shape[1], x.shape[0]) if ctx.needs_input_grad[0] else None  # (in, B)
        for (r0, r1, c0, c1), edge in zip(ctx.blocks, edges):
            grad_weight[r0:r1, c1:].zero_()
            grad_weight[r0:r1, :c1].addmm_(g_T[r0:r1], x[:, :c1], beta=0)
            grad_weight[r0:r1, c0:c1].mul_(mask[r0:r1, c0:c1])
            if grad_x_T is not None:
                grad_x_T[:c0].addmm_(weight[r0:r1, :c0].t(), g_T[r0:r1])
                grad_x_T[c0:c1].addmm_(edge.t(), g_T[r0:r1])
        grad_bias = g_T.sum(1) if ctx.has_bias else None
        grad_x = None if grad_x_T is None else grad_x_T.t()
        return grad_x, grad_weight, grad_bias, None, None


def prefix_masked_linear(x, weight, bias, mask, blocks: tuple[Block, ...]) -> torch.Tensor:
    """(B, in) -> (B, out): ``F.linear(x, weight * mask, bias)`` for a mask with ``blocks = prefix_blocks(mask)``."""
    return _PrefixMaskedLinear.apply(x, weight, bias, mask, blocks)
