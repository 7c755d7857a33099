"""The noise IGN maps onto the data: white Gaussian noise, or "FFT noise" whose every frequency has the mean
and standard deviation of the training images' spectrum (Shocher et al. 2023, sec. 4: noise matched to the
data's frequency statistics makes the first application of f easier)."""
from __future__ import annotations

import torch
from torch import nn


def self_conjugate(height: int, width: int) -> torch.Tensor:
    """(H, W//2 + 1) bool: the frequencies of ``rfft2`` that are their own conjugates (real for real images):
    rows 0 and H/2 (even H) of columns 0 and W/2 (even W)."""
    mask = torch.zeros(height, width // 2 + 1, dtype=torch.bool)
    for row in {0, height // 2} if height % 2 == 0 else {0}:
        for col in {0, width // 2} if width % 2 == 0 else {0}:
            mask[row, col] = True
    return mask


class FourierNoise(nn.Module):
    """Gaussian noise with a given per-frequency mean and standard deviation of the real and imaginary parts
    of ``rfft2`` (computed once from the training images by ``fit``, kept as buffers).

    Sampling whitens nothing: white pixel noise e has ``rfft2(e) / sqrt(HW)`` with Hermitian symmetry and
    known variances (1 at self-conjugate frequencies, 1/2 for each part elsewhere); scaling it to unit variance
    and then by the fitted std, adding the mean, and inverting with ``irfft2`` gives an image whose spectrum is
    exactly that draw, so its per-frequency statistics are the fitted ones.
    """

    def __init__(self, image_shape: tuple[int, int, int]):
        super().__init__()
        c, h, w = image_shape
        self.image_shape = (c, h, w)
        spectrum = (c, h, w // 2 + 1)
        self.register_buffer("mean_re", torch.zeros(spectrum))
        self.register_buffer("mean_im", torch.zeros(spectrum))
        # until fitted: the statistics of white unit noise, so an unfitted model still samples sensibly
        unit = torch.full(spectrum, 0.5 * h * w).sqrt()
        real = self_conjugate(h, w).expand(spectrum)
        self.register_buffer("std_re", torch.where(real, unit * 2**0.5, unit))
        self.register_buffer("std_im", torch.where(real, torch.zeros(()), unit))

    @torch.no_grad()
    def fit(self, images: torch.Tensor, batch_size: int = 5000) -> None:
        """Per-frequency mean and std of ``rfft2`` over ``images`` (N, C, H, W) (in the network's range)."""
        n, sums = 0, torch.zeros(4, *self.mean_re.shape, dtype=torch.float64)
        for start in range(0, images.shape[0], batch_size):
            spec = torch.fft.rfft2(images[start:start + batch_size].double())  # (B, C, H, W//2+1)
            sums += torch.stack([spec.real.sum(0), spec.imag.sum(0), spec.real.pow(2).sum(0), spec.imag.pow(2).sum(0)])
            n += spec.shape[0]
        mean_re, mean_im = sums[0] / n, sums[1] / n
        self.mean_re.copy_(mean_re)
        self.mean_im.copy_(mean_im)
        self.std_re.copy_((sums[2] / n - mean_re**2).clamp_min(0).sqrt())
        self.std_im.copy_((sums[3] / n - mean_im**2).clamp_min(0).sqrt())

    def forward(self, white: torch.Tensor) -> torch.Tensor:
        """White N(0, 1) pixel noise (B, C, H, W) -> FFT noise of the same shape."""
        c, h, w = self.image_shape
        spec = torch.fft.rfft2(white.float()) / (h * w) ** 0.5  # (B, C, H, W//2+1), Hermitian
        real = self_conjugate(h, w).to(white.device)
        unit_re = torch.where(real, 1.0, 0.5**0.5)  # std of each part of spec
        unit_im = torch.where(real, 1.0, 0.5**0.5)  # (its imaginary part is 0 where real)
        re = self.mean_re + self.std_re * spec.real / unit_re
        im = self.mean_im + self.std_im * spec.imag / unit_im
        return torch.fft.irfft2(torch.complex(re, im), s=(h, w))
