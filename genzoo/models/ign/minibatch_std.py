"""The minibatch standard deviation of ProGAN's critic (Karras et al. 2018, sec. 3): a critic that scores each
image alone cannot see that a batch of samples lacks variety (too many ones, too few eights); one more feature
map holding the spread of the features over a small group of examples lets it.

For a group of G examples with features h (G, C, H, W): sigma = mean over (C, H, W) of the standard deviation
over the group, one number appended to every member as a constant (H, W) map. Groups are G consecutive examples,
so that a batch made of B real images followed by B samples (the GAN's one critic pass) never mixes the two when
G divides B; a batch size G does not divide takes the largest group size below G that divides it.
"""
from __future__ import annotations

import torch
from torch import nn


def group_size(batch: int, largest: int) -> int:
    """The largest group size <= ``largest`` that divides ``batch`` (1 at worst)."""
    return max(g for g in range(1, min(largest, batch) + 1) if batch % g == 0)


class MinibatchStd(nn.Module):
    """(B, C, H, W) -> (B, C + 1, H, W): the features and their group's mean standard deviation."""

    def __init__(self, group: int, eps: float = 1e-8):
        super().__init__()
        if isinstance(group, bool) or not isinstance(group, int) or group < 2:
            raise ValueError(f"a minibatch standard deviation needs groups of at least 2 examples, got {group!r}")
        self.group, self.eps = group, eps

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, _, height, width = h.shape
        g = group_size(b, self.group)
        grouped = h.float().reshape(b // g, g, *h.shape[1:])  # (B / G, G, C, H, W)
        sigma = (grouped.var(dim=1, unbiased=False) + self.eps).sqrt().mean(dim=(1, 2, 3))  # (B / G,)
        spread = sigma.repeat_interleave(g).to(h.dtype).reshape(b, 1, 1, 1).expand(b, 1, height, width)
        return torch.cat([h, spread], dim=1)  # (B, C + 1, H, W)

    def extra_repr(self) -> str:
        return f"group={self.group}"
