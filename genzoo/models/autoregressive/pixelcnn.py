"""PixelCNN (van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent Neural Networks", sec. 3.5).

Masked convolutions make the logits at pixel (r, c) a function of the pixels before it in raster order: mask
A (first layer) keeps the kernel taps strictly above the centre row and left of the centre in the centre row;
mask B (every later layer) also keeps the centre, so a unit never sees its own pixel through the stack. The
mask multiplies the weight inside the forward (``weight * mask``), so the parameter itself is never edited and
its gradient is zero where the mask is. Residual blocks as in sec. 3.5 / fig. 5 (1x1 down to h, masked 3x3,
1x1 back to 2h). One input channel per category (one-hot), K output logits per pixel.

With one input plane the receptive field of stacked masked convolutions has a blind spot (pixels to the upper
right of the centre are not all seen); the Gated PixelCNN removes it.

Sampling computes every layer at the new pixel only (the caching of Ramachandran et al. 2017, "Fast Generation
for Convolutional Autoregressive Models"): a masked layer's output at (r, c) reads its input at positions up to
(r, c) in raster order, all computed at earlier steps and kept in a padded cache per layer, so a sample costs
about one forward pass instead of H*W of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import PositiveInt, Range
from genzoo.models.autoregressive.grid import GridAutoregressiveModel, GridConfig, OneHotCache, RasterStepper
from genzoo.registry import register_model


def causal_mask(kernel_size: int, kind: str) -> torch.Tensor:
    """(k, k) mask: 1 for rows above the centre, and in the centre row left of it (and the centre for "B")."""
    if kind not in ("A", "B"):
        raise ValueError(f"mask kind must be 'A' or 'B', got {kind!r}")
    k, centre = kernel_size, kernel_size // 2
    mask = torch.zeros(k, k)
    mask[:centre] = 1
    mask[centre, : centre + (kind == "B")] = 1
    return mask


class MaskedConv2d(nn.Conv2d):
    """A same-padded convolution whose weight is multiplied by a causal mask in every forward."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, kind: str):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.register_buffer("mask", causal_mask(kernel_size, kind), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

    def at(self, padded: torch.Tensor, r: int, c: int) -> torch.Tensor:
        """The output at pixel (r, c) alone, (n, out), from the input zero-padded by ``padding`` on every side
        (n, in, H + 2p, W + 2p): the rows below the centre are masked out, so only rows r - p .. r are read."""
        p = self.padding[0]
        weight = (self.weight * self.mask)[:, :, : p + 1]
        return F.conv2d(padded[:, :, r : r + p + 1, c : c + 2 * p + 1], weight, self.bias)[:, :, 0, 0]


class ResidualBlock(nn.Module):
    """2h -> ReLU, 1x1 to h -> ReLU, masked (B) 3x3 -> ReLU, 1x1 to 2h, plus the input (fig. 5)."""

    def __init__(self, channels: int):
        super().__init__()
        h = channels // 2
        self.down, self.conv, self.up = nn.Conv2d(channels, h, 1), MaskedConv2d(h, h, 3, "B"), nn.Conv2d(h, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(F.relu(self.conv(F.relu(self.down(F.relu(x))))))

    def at(self, x: torch.Tensor, inner: torch.Tensor, r: int, c: int) -> torch.Tensor:
        """The block at pixel (r, c): input (n, 2h) -> output (n, 2h); ``inner`` (n, h, H + 2, W + 2) caches the
        masked convolution's padded input, written here at (r, c)."""
        inner[:, :, r + 1, c + 1] = pointwise(self.down, F.relu(x)).relu()
        return x + pointwise(self.up, F.relu(self.conv.at(inner, r, c)))


def pointwise(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution (or a stack of them) applied to one pixel's features (n, C)."""
    return layer(x[:, :, None, None])[:, :, 0, 0]


@dataclass
class PixelCNNConfig(GridConfig):
    channels: Annotated[int, Range(ge=2)] = 64  # 2h of the paper's residual blocks
    blocks: PositiveInt = 7  # residual blocks after the 7x7 mask-A layer
    output_channels: PositiveInt = 64  # width of the two masked 1x1 layers before the logits
    first_kernel: Literal[3, 5, 7] = 7


@register_model("pixelcnn")
class PixelCNN(GridAutoregressiveModel):
    config_class = PixelCNNConfig

    def __init__(self, config: PixelCNNConfig):
        super().__init__(config)
        c = config
        self.input = MaskedConv2d(c.categories, c.channels, c.first_kernel, "A")
        self.blocks = nn.Sequential(*(ResidualBlock(c.channels) for _ in range(c.blocks)))
        # 1x1 convolutions see only their own pixel's features: mask B is the identity there
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c.channels, c.output_channels, 1), nn.ReLU(),
                                  nn.Conv2d(c.output_channels, c.categories, 1))

    def forward(self, planes: torch.Tensor) -> torch.Tensor:
        """One-hot planes (B, K, H, W) -> logits (B, K, H, W) (a float input, so tests can take gradients)."""
        return self.head(self.blocks(self.input(planes)))

    def stepper(self, n: int) -> PixelCNNStepper:
        return PixelCNNStepper(self, n)


class PixelCNNStepper(RasterStepper):
    """Every layer computed at the new pixel only, from per-layer caches of its (padded) input."""

    def __init__(self, model: PixelCNN, n: int):
        super().__init__(model.grid)
        H, W = model.grid
        p = model.input.padding[0]
        self.model, self.cache = model, OneHotCache(model, n, top=p, left=p, right=p)
        self.inner = [torch.zeros(n, b.conv.in_channels, H + 2, W + 2, dtype=model.dtype, device=model.device)
                      for b in model.blocks]

    def step(self, tokens: torch.Tensor, r: int, c: int) -> torch.Tensor:
        if self.previous is not None:
            self.cache.write(tokens, *self.previous)
        x = self.model.input.at(self.cache.planes, r, c)  # (n, 2h)
        for block, inner in zip(self.model.blocks, self.inner):
            x = block.at(x, inner, r, c)
        return pointwise(self.model.head, x)  # (n, K)
