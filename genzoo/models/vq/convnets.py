"""Convolutional encoder and decoder for 28x28 images with a 7x7 latent grid (two stride-2 stages), in the
style of the VQ-VAE paper's (van den Oord et al. 2017, sec. 4.1): strided convolutions, then residual blocks
3x3 -> 1x1."""
from __future__ import annotations

from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(channels, channels, 1))

    def forward(self, x):
        return x + self.body(x)


def encoder(in_channels: int, channels: int, res_blocks: int, latent_dim: int) -> nn.Sequential:
    """(B, C, 28, 28) -> (B, latent_dim, 7, 7)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, channels, 4, stride=2, padding=1), nn.ReLU(),  # (B, ch, 14, 14)
        nn.Conv2d(channels, channels, 4, stride=2, padding=1),  # (B, ch, 7, 7)
        *[ResidualBlock(channels) for _ in range(res_blocks)], nn.ReLU(),
        nn.Conv2d(channels, latent_dim, 1),  # (B, latent_dim, 7, 7)
    )


def decoder(latent_dim: int, channels: int, res_blocks: int, out_channels: int) -> nn.Sequential:
    """(B, latent_dim, 7, 7) -> (B, C, 28, 28) logits."""
    return nn.Sequential(
        nn.Conv2d(latent_dim, channels, 3, padding=1),  # (B, ch, 7, 7)
        *[ResidualBlock(channels) for _ in range(res_blocks)], nn.ReLU(),
        nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1), nn.ReLU(),  # (B, ch, 14, 14)
        nn.ConvTranspose2d(channels, out_channels, 4, stride=2, padding=1),  # (B, C, 28, 28)
    )
