"""The DCGAN-style encoder and decoder of the IGN reimplementations for 28x28 images (Shocher et al. 2023,
sec. 4, after Radford et al. 2016), shared by the IGN (f = decoder . encoder) and by the same-size GAN
(generator = decoder, discriminator = encoder + a linear head).

GroupNorm or no normalization, never BatchNorm: IGN applies f with frozen parameters inside its loss, and a
frozen application must not move running statistics (nor make one example's output depend on the batch).
"""
from __future__ import annotations

from torch import nn


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "group":
        return nn.GroupNorm(min(32, channels // 4) or 1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choose group or none")


def _activation(act: nn.Module, dropout: float) -> nn.Module:
    """``act``, then with ``dropout`` > 0 whole channels dropped (Dropout2d, as an IGN reimplementation does).
    Both in one slot of the Sequential, so the weights' names, and any checkpoint, are the same either way."""
    return nn.Sequential(act, nn.Dropout2d(dropout)) if dropout > 0 else act


def encoder(in_channels: int, width: int, norm: str = "group", spectral: bool = False,
            dropout: float = 0.0) -> nn.Sequential:
    """(B, C, 28, 28) -> (B, 8 width, 1, 1): strided convolutions 28 -> 14 -> 7 -> 4 -> 1, LeakyReLU(0.2).
    ``spectral`` wraps every convolution in spectral normalization (Miyato et al. 2018), as a GAN's critic;
    ``dropout``: channel dropout after each hidden layer."""
    sn = nn.utils.parametrizations.spectral_norm if spectral else (lambda m: m)
    act = lambda: _activation(nn.LeakyReLU(0.2), dropout)  # noqa: E731
    return nn.Sequential(
        sn(nn.Conv2d(in_channels, width, 4, 2, 1)), act(),  # (B, w, 14, 14)
        sn(nn.Conv2d(width, 2 * width, 4, 2, 1)), _norm(norm, 2 * width), act(),  # (B, 2w, 7, 7)
        sn(nn.Conv2d(2 * width, 4 * width, 3, 2, 1)), _norm(norm, 4 * width), act(),  # (B, 4w, 4, 4)
        sn(nn.Conv2d(4 * width, 8 * width, 4, 1, 0)),  # (B, 8w, 1, 1)
    )


def decoder(out_channels: int, width: int, norm: str = "group", dropout: float = 0.0) -> nn.Sequential:
    """(B, 8 width, 1, 1) -> (B, C, 28, 28) on [-1, 1] (tanh): transposed convolutions 1 -> 4 -> 7 -> 14 -> 28;
    ``dropout`` as the encoder's."""
    act = lambda: _activation(nn.ReLU(), dropout)  # noqa: E731
    return nn.Sequential(
        nn.ConvTranspose2d(8 * width, 4 * width, 4, 1, 0), _norm(norm, 4 * width), act(),  # (B, 4w, 4, 4)
        nn.ConvTranspose2d(4 * width, 2 * width, 3, 2, 1), _norm(norm, 2 * width), act(),  # (B, 2w, 7, 7)
        nn.ConvTranspose2d(2 * width, width, 4, 2, 1), _norm(norm, width), act(),  # (B, w, 14, 14)
        nn.ConvTranspose2d(width, out_channels, 4, 2, 1), nn.Tanh(),  # (B, C, 28, 28)
    )


def dcgan_init_(module: nn.Module) -> None:
    """DCGAN's initialization (Radford et al. 2016, sec. 4): convolution weights N(0, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.normal_(weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
