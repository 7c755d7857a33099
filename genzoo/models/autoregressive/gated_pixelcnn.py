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

Sampling keeps caches (Ramachandran et al. 2017, "Fast Generation for Convolutional Autoregressive Models"):
the vertical stack is computed one row at a time, once the row is drawn (the horizontal stack reads it one row
later), and the horizontal stack at the new pixel only, from the current row's inputs of each layer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import PositiveInt
from genzoo.models.autoregressive.grid import GridAutoregressiveModel, GridConfig, OneHotCache, RasterStepper
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


def vertical_convolution(in_channels: int, channels: int, kernel: int, factorized: bool) -> nn.Module:
    """The vertical stack's (k//2 + 1) x k convolution to 2 ``channels``, or, ``factorized``, a 1 x k convolution
    to ``channels`` then a (k//2 + 1) x 1 one (pytorch-generative's split of the kernel; fewer multiply-adds when
    in_channels is large). The first has no bias, so the zero rows padded on top stay zero between the two."""
    rows = kernel // 2 + 1
    if not factorized:
        return nn.Conv2d(in_channels, 2 * channels, (rows, kernel))
    return nn.Sequential(nn.Conv2d(in_channels, channels, (1, kernel), bias=False),  # (B, C, H + k, W)
                         nn.Conv2d(channels, 2 * channels, (rows, 1)))  # (B, 2C, H, W)


class GatedLayer(nn.Module):
    def __init__(self, in_channels: int, channels: int, kernel: int, first: bool, factorized: bool = False):
        super().__init__()
        self.half, self.first = kernel // 2, first
        self.vertical = vertical_convolution(in_channels, channels, kernel, factorized)
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
        h_out, skip = self.combine(h, self.link(shift_down(v)), h_in)  # rows < r from the vertical stack
        return gate(v), h_out, skip

    def combine(self, h: torch.Tensor, linked: torch.Tensor, h_in: torch.Tensor):
        """The horizontal stack's gated unit on its convolution ``h`` plus the linked vertical stack, then the
        residual and skip 1x1 convolutions: (output of the horizontal stack, skip)."""
        h = gate(h + linked)
        return self.residual(h) + (0 if self.first else h_in), self.skip(h)


@dataclass
class GatedPixelCNNConfig(GridConfig):
    channels: PositiveInt = 64
    layers: PositiveInt = 8
    first_kernel: Literal[3, 5, 7] = 7
    kernel: Literal[3, 5] = 3
    output_channels: PositiveInt = 64
    # the vertical kernel whole (the paper's) or in two (``vertical_convolution``) after the first layer, whose
    # K one-hot input planes make the whole kernel the cheaper one
    vertical: Literal["full", "factorized"] = "full"


@register_model("gated_pixelcnn")
class GatedPixelCNN(GridAutoregressiveModel):
    config_class = GatedPixelCNNConfig

    def __init__(self, config: GatedPixelCNNConfig):
        super().__init__(config)
        c = config
        self.layers = nn.ModuleList(
            GatedLayer(c.categories if i == 0 else c.channels, c.channels, c.first_kernel if i == 0 else c.kernel,
                       first=i == 0, factorized=c.vertical == "factorized" and i > 0) for i in range(c.layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c.channels, c.output_channels, 1), nn.ReLU(),
                                  nn.Conv2d(c.output_channels, c.categories, 1))

    def forward(self, planes: torch.Tensor) -> torch.Tensor:
        """One-hot planes (B, K, H, W) -> logits (B, K, H, W)."""
        v, h, skips = planes, planes, 0
        for layer in self.layers:
            v, h, skip = layer(v, h)
            skips = skips + skip
        return self.head(skips)

    def stepper(self, n: int) -> GatedStepper:
        return GatedStepper(self, n)


class GatedStepper(RasterStepper):
    """Row by row for the vertical stack, pixel by pixel for the horizontal one.

    ``vertical[i]`` caches layer i's vertical input, zero-padded (n, C_in, k + H, k + W + k) (k = half its
    kernel), and ``linked[i]`` (n, 2C, 1, W) the link of the vertical stack one row up. The horizontal stack of
    layer i > 0 reads its own row's inputs from ``row[i]`` (n, C, k + W); layer 0 reads the one-hot planes."""

    def __init__(self, model: GatedPixelCNN, n: int):
        super().__init__(model.grid)
        H, W = model.grid
        first = model.layers[0].half
        self.model = model
        self.planes = OneHotCache(model, n, top=first, left=first, right=first)  # layer 0's vertical input
        zeros = lambda *shape: torch.zeros(n, *shape, dtype=model.dtype, device=model.device)  # noqa: E731
        self.vertical = [self.planes.planes] + [zeros(l.horizontal.in_channels, l.half + H, W + 2 * l.half)
                                                for l in model.layers[1:]]
        self.row = [None] + [zeros(l.horizontal.in_channels, l.half + W) for l in model.layers[1:]]
        self.linked = [layer.link(zeros(layer.link.in_channels, 1, W)) for layer in model.layers]  # row 0: none above

    def step(self, tokens: torch.Tensor, r: int, c: int) -> torch.Tensor:
        if self.previous is not None:
            self.planes.write(tokens, *self.previous)
            if c == 0:
                self.advance_vertical(r - 1)
        h, skips = None, 0  # the pixel's features as (n, C, 1, 1), so the layers' 1x1 convolutions apply as they are
        for i, layer in enumerate(self.model.layers):
            h_in = h
            if i:
                self.row[i][:, :, layer.half + c] = h_in[:, :, 0, 0]
            h, skip = layer.combine(self.horizontal_at(i, r, c), self.linked[i][:, :, :, c, None], h_in)
            skips = skips + skip
        return self.model.head(skips)[:, :, 0, 0]  # (n, K)

    def horizontal_at(self, i: int, r: int, c: int) -> torch.Tensor:
        """Layer i's horizontal convolution at (r, c), the current position, (n, 2C, 1, 1)."""
        layer, k = self.model.layers[i], self.model.layers[i].half
        if i == 0:  # shifted right: columns c - 1 - k .. c - 1 of the planes, zero at c = 0
            if c == 0:
                return torch.zeros_like(self.linked[0][:, :, :, :1])
            window = self.planes.planes[:, :, k + r, c - 1 : c + k]  # padded columns of c - 1 - k .. c - 1
        else:
            window = self.row[i][:, :, c : c + k + 1]
        return F.conv2d(window[:, :, None], layer.horizontal.weight, layer.horizontal.bias)

    def advance_vertical(self, r: int) -> None:
        """Row r is drawn: every layer's vertical stack at row r, and its link for row r + 1."""
        for i, layer in enumerate(self.model.layers):
            k = layer.half
            v = layer.vertical(self.vertical[i][:, :, r : r + k + 1])  # (n, 2C, 1, W)
            self.linked[i] = layer.link(v)  # (n, 2C, 1, W)
            if i + 1 < len(self.model.layers):
                k_next = self.model.layers[i + 1].half
                self.vertical[i + 1][:, :, k_next + r, k_next : k_next + self.grid[1]] = gate(v)[:, :, 0]
