"""Gated PixelCNN (van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves, Kavukcuoglu 2016, "Conditional Image
Generation with PixelCNN Decoders", sec. 2.1-2.2, fig. 2).

Two stacks remove the plain PixelCNN's blind spot. The vertical stack's convolutions (kernel k//2 + 1 rows by
k columns, padded on top) see the rows up to and including their own, across the kernel's width; its output is
shifted down one row before it reaches the horizontal stack, so the horizontal stack at row r learns of rows < r
only. The horizontal stack's convolutions (1 row by k//2 + 1 columns, padded on the left) see their own row up
to their own column; in the first layer they are shifted right one column, so no position sees itself. Only
the vertical stack feeds the horizontal one, never the other way. Each layer's activation is the gated unit
y = tanh(W_f * x) * sigmoid(W_g * x) (eq. 2); the horizontal stack is residual after the first layer, and every
layer adds a 1x1 skip connection into the output.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import PositiveInt
from genzoo.models.autoregressive.grid import GridAutoregressiveModel, GridConfig
from genzoo.registry import register_model


def gate(x: torch.Tensor) -> torch.Tensor:
    """Eq. 2: the first half of the channels through tanh, times the second half through a sigmoid."""
    f, g = x.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(g)


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """Row r takes row r - 1 (zeros in row 0): (B, C, H, W) -> (B, C, H, W)."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def shift_right(x: torch.Tensor) -> torch.Tensor:
    """Column c takes column c - 1 (zeros in column 0)."""
    return F.pad(x, (1, 0))[:, :, :, :-1]


class GatedLayer(nn.Module):
    def __init__(self, in_channels: int, channels: int, kernel: int, first: bool):
        super().__init__()
        self.half, self.first = kernel // 2, first
        self.vertical = nn.Conv2d(in_channels, 2 * channels, (self.half + 1, kernel))
        self.horizontal = nn.Conv2d(in_channels, 2 * channels, (1, self.half + 1))
        self.link = nn.Conv2d(2 * channels, 2 * channels, 1)  # vertical -> horizontal, never back
        self.residual = nn.Conv2d(channels, channels, 1)
        self.skip = nn.Conv2d(channels, channels, 1)

    def forward(self, v_in: torch.Tensor, h_in: torch.Tensor):
        k = self.half
        v = self.vertical(F.pad(v_in, (k, k, k, 0)))  # (B, 2C, H, W): rows <= r, columns c - k .. c + k
        h = self.horizontal(F.pad(h_in, (k, 0, 0, 0)))  # row r, columns c - k .. c
        if self.first:
            h = shift_right(h)  # columns < c: the first layer must not see its own pixel
        h = gate(h + self.link(shift_down(v)))  # rows < r from the vertical stack
        h_out = self.residual(h) + (0 if self.first else h_in)
        return gate(v), h_out, self.skip(h)


@dataclass
class GatedPixelCNNConfig(GridConfig):
    channels: PositiveInt = 64
    layers: PositiveInt = 8
    first_kernel: Literal[3, 5, 7] = 7
    kernel: Literal[3, 5] = 3
    output_channels: PositiveInt = 64


@register_model("gated_pixelcnn")
class GatedPixelCNN(GridAutoregressiveModel):
    config_class = GatedPixelCNNConfig

    def __init__(self, config: GatedPixelCNNConfig):
        super().__init__(config)
        c = config
        self.layers = nn.ModuleList(
            GatedLayer(c.categories if i == 0 else c.channels, c.channels, c.first_kernel if i == 0 else c.kernel,
                       first=i == 0) for i in range(c.layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c.channels, c.output_channels, 1), nn.ReLU(),
                                  nn.Conv2d(c.output_channels, c.categories, 1))

    def forward(self, planes: torch.Tensor) -> torch.Tensor:
        """One-hot planes (B, K, H, W) -> logits (B, K, H, W)."""
        v, h, skips = planes, planes, 0
        for layer in self.layers:
            v, h, skip = layer(v, h)
            skips = skips + skip
        return self.head(skips)
