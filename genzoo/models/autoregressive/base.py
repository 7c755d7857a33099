"""Shared machinery of the autoregressive models of binary images: validation, likelihood, sampling.

A model gives, for each pixel d, the logit of p(x_d = 1 | x_<d) where "<d" follows its ordering
(``ordering(mask)``: the pixel index at each position). Models with several masks (MADE's connectivity- and
order-agnostic training) are uniform mixtures over them.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genzoo.models.autoregressive.results import LIKELIHOOD_TABLE, likelihood_headline, likelihood_row
from genzoo.models.base import GenerativeModel


def check_binary_images(x: torch.Tensor, image_shape: tuple[int, ...], dtype: torch.dtype | None = None
                        ) -> torch.Tensor:
    """``x`` as float (B, *image_shape) with values in {0, 1}, or a ValueError naming what is wrong. Any dtype
    holds 0 and 1 exactly, so valid batches of every dtype are taken: cast to ``dtype`` (the model's) where
    given, else integer and bool batches become float32 and floating ones keep their dtype."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() != len(image_shape) + 1 or tuple(x.shape[1:]) != tuple(image_shape):
        want = ", ".join(map(str, image_shape))
        raise ValueError(f"expected shape (B, {want}), got {tuple(x.shape)}")
    if x.is_complex():
        raise ValueError(f"expected real binary values, got dtype {x.dtype}")
    x = x.float() if not x.is_floating_point() else x
    # x - x^2 is 0 exactly at 0 and 1, nonzero elsewhere, NaN at NaN and inf: one fused pass (about 0.6% of an
    # FVSBN training step at batch 100, against 2.6% for separate NaN and value tests; bench/ar_training)
    if torch.any(torch.addcmul(x, x, x, value=-1)):
        if torch.isnan(x).any():
            raise ValueError("x contains NaN; expected binary values in {0, 1}")
        bad = ~((x == 0) | (x == 1))
        raise ValueError(f"x must be binary (values in {{0, 1}}); found e.g. {x[bad][0].item()!r}")
    return x if dtype is None else x.to(dtype)


class BinaryAutoregressiveModel(GenerativeModel):
    """Base of FVSBN, NADE and MADE: subclasses give ``conditional_logits`` and an incremental sampler."""

    results_table = LIKELIHOOD_TABLE

    def __init__(self, config):
        super().__init__(config)
        self.image_shape = tuple(config.image_shape)
        self.num_pixels = math.prod(self.image_shape)
        if self.num_pixels < 2:
            raise ValueError(f"image_shape {self.image_shape} has fewer than 2 pixels")

    # --- what a subclass provides ------------------------------------------------------------------------
    num_masks = 1

    def ordering(self, mask: int = 0) -> torch.Tensor:
        """(D,) pixel index at each position of the autoregressive order of ``mask``."""
        return torch.arange(self.num_pixels, device=self.device)

    def conditional_logits(self, x: torch.Tensor, mask: int = 0) -> torch.Tensor:
        """(B, D) flat binary inputs -> (B, D) logits of p(x_d = 1 | x_<d) under ``mask``."""
        raise NotImplementedError

    def _sample_incremental(self, u: torch.Tensor, mask: int) -> torch.Tensor:
        """Uniforms (n, D) -> binary (n, D) with x_d = [u_d < p(x_d = 1 | x_<d)], in about one forward pass."""
        raise NotImplementedError

    # --- likelihood ------------------------------------------------------------------------------------------
    def _mask_log_prob(self, x_flat: torch.Tensor, mask: int) -> torch.Tensor:
        logits = self.conditional_logits(x_flat, mask)
        return -F.binary_cross_entropy_with_logits(logits, x_flat, reduction="none").sum(-1)

    def component_log_prob(self, x: torch.Tensor, mask: int) -> torch.Tensor:
        """Exact log p_k(x) in nats, (B,), under the one mask (or ordering) k of the mixture."""
        if not 0 <= mask < self.num_masks:
            raise ValueError(f"mask must be in [0, {self.num_masks}), got {mask}")
        return self._mask_log_prob(check_binary_images(x, self.image_shape, self.dtype).flatten(1), mask)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) in nats, (B,); for several masks the uniform mixture log (1/K) sum_k p_k(x)."""
        x_flat = check_binary_images(x, self.image_shape, self.dtype).flatten(1)
        if self.num_masks == 1:
            return self._mask_log_prob(x_flat, 0)
        per_mask = torch.stack([self._mask_log_prob(x_flat, k) for k in range(self.num_masks)])  # (K, B)
        return torch.logsumexp(per_mask, dim=0) - math.log(self.num_masks)

    def training_mask(self) -> int:
        """The mask the next training batch uses (one for all its examples)."""
        return 0

    def penalty(self) -> torch.Tensor | float:
        """A regularizer added to the training loss (not to log_prob); none by default."""
        return 0.0

    def loss(self, batch: torch.Tensor):
        batch = self.check_nonempty(check_binary_images(batch, self.image_shape, self.dtype))
        nll = -self._mask_log_prob(batch.flatten(1), self.training_mask()).mean()
        return nll + self.penalty(), {"nll": nll.detach()}

    # --- sampling --------------------------------------------------------------------------------------------
    def results_row(self, report) -> list[str]:
        return likelihood_row(report)

    def headline(self, report) -> tuple[str, str]:
        return likelihood_headline(report)

    def _sampling_noise(self, n: int, generator: torch.Generator | None):
        """Every random number a sample needs: the mask of each example and one uniform per pixel."""
        gen_device = generator.device if generator is not None else self.device
        masks = torch.randint(self.num_masks, (n,), generator=generator, device=gen_device).to(self.device)
        return masks, self.rand(n, self.num_pixels, generator=generator)

    def _sample_with(self, sampler, n: int, generator) -> torch.Tensor:
        n = self.check_sample_count(n)
        masks, u = self._sampling_noise(n, generator)
        x = torch.empty_like(u)
        for k in masks.unique().tolist():
            rows = masks == k
            x[rows] = sampler(u[rows], k).to(x.dtype)  # under autocast the sampler may answer in bf16
        return x.view(n, *self.image_shape)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` exact samples (n, *image_shape) in {0, 1}, drawn incrementally (about one forward each)."""
        return self._sample_with(self._sample_incremental, n, generator)

    @torch.no_grad()
    def sample_naive(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Reference sampler: one full forward pass per pixel. Same noise, so the same images as ``sample``."""
        return self._sample_with(self._sample_naive, n, generator)

    def _sample_naive(self, u: torch.Tensor, mask: int) -> torch.Tensor:
        x = torch.zeros_like(u)
        for d in self.ordering(mask).tolist():
            p = torch.sigmoid(self.conditional_logits(x, mask)[:, d])
            x[:, d] = (u[:, d] < p).to(x.dtype)
        return x
