"""Idempotent Generative Network (Shocher et al. 2023, "Idempotent Generative Network", arXiv 2311.01462).

One network f maps images to images. Real images are to be fixed points, f(x) = x, and f of noise is to land
on the data in one step, f(f(z)) = f(z). With D a distance (L1 or squared, mean over pixels) and
delta(y) = D(f(y), y), the paper's objective (sec. 2.2, eq. 7-9) is

    L_rec   = delta(x)                          = D(f(x), x)
    L_idem  = D(f'(f(z)), f(z))                 outer application frozen: gradient only through f(z)
    L_tight = -D(f(f'(z)), f'(z))               inner application frozen: f(z) enters detached
    L       = l_r L_rec + l_i L_idem + l_t L_tight,

with L_tight smoothed as tanh(L_tight / (a L_rec)) a L_rec (L_rec detached, a = 1.5; sec. 2.3), which bounds it
to (-a L_rec, 0]. An optional fourth term, l_m L_imle (``lambda_imle``, default 0), is implicit maximum likelihood
(Li & Malik 2018, alg. 1): L_imle = mean_i min_j D(f(z_j), x_i), j over the batch's samples or (``imle_pool`` K)
over K * B fresh ones, the nearest sample chosen without gradient (``imle_matching: one_to_one``: distinct samples,
minibatch optimal transport), so that every real image pulls some f(z) towards it; Al-Jaff et al. 2025 (NAIGN)
use it against IGN's mode dropping. With ``lambda_imle_twice`` (l_m2) each image's matched sample is applied once
more and pulled to the same image, l_m2 mean_i D(f(f(z_m(i))), x_i), the match still made on f once: f twice is then
pulled to the data as f once is, not only towards f once by L_idem. Three forms give the same parameter gradients
(tests/models/ign):

- ``paper``: the frozen applications as functional calls on detached parameters (four passes of f).
- ``single_loss``: Su Jianlin's reading of IGN as a GAN whose generator and critic are one network ("IGN: a GAN
  that merges discrimination and generation", 2024): with sg a stop-gradient,
  L = l_r delta(x) + l_i [delta(f(z)) - delta(sg f(z))] + l_t smooth(-delta(sg f(z))); the two deltas have the
  same value, and their parameter gradients through the outer f cancel (four passes of f).
- ``single_pass``: one outer application f(f(z)) serves both terms, its two gradient paths scaled separately
  after the forward: the parameters by -l_t smooth'(L_tight) (tightness), the input f(z) by l_i (idempotence).
  Three passes of f instead of four, and f(x), f(z) in one batched pass. Defined for every l_t, including 0 and
  a saturated tanh (no ratio of the two weights is taken).

Inside, images live on [-1, 1] (f ends in tanh); the public API takes and returns images on [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from genzoo.config import Config, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, UnitInterval
from genzoo.models.ign.base import DCGANImageModel
from genzoo.models.ign.dcgan import dcgan_init_, decoder, encoder
from genzoo.models.ign.frozen import call_with_gradient_scales, frozen_call
from genzoo.models.ign.imle import Matching, check_pool, matched_samples, per_example_distance
from genzoo.models.ign.noise import FourierNoise
from genzoo.preview import save_image_grid
from genzoo.registry import register_model

FORMS = ("paper", "single_loss", "single_pass")


def check_steps(steps) -> int:
    """The number of applications of f, an integer >= 1, or a ValueError naming it."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps (applications of f) must be an integer >= 1, got {steps!r}")
    return steps


@dataclass
class IGNConfig(Config):
    image_shape: tuple[PositiveInt, PositiveInt, PositiveInt] = (1, 28, 28)
    width: PositiveInt = 64  # the encoder's first convolution; the code is 8 * width channels at 1x1
    norm: Literal["group", "none"] = "group"  # never BatchNorm: a frozen application must not move statistics
    distance: Literal["l1", "l2"] = "l1"
    noise: Literal["gaussian", "fourier"] = "gaussian"
    form: Literal["paper", "single_loss", "single_pass"] = "paper"
    lambda_rec: NonNegativeFloat = 20.0
    lambda_idem: NonNegativeFloat = 20.0
    lambda_tight: NonNegativeFloat = 2.5
    tight_clamp_ratio: PositiveFloat = 1.5  # a: L_tight smoothed to (-a L_rec, 0]
    smooth_tight: bool = True
    tight_warmup: NonNegativeInt = 0  # loss calls over which l_t rises linearly from 0 (0: none)
    dropout: UnitInterval = 0.0  # Dropout2d after every hidden layer of f (on in training, in every application)
    lambda_imle: NonNegativeFloat = 0.0  # l_m: each real image's nearest f(z) in the batch pulled to it (0: off)
    imle_pool: PositiveInt = 1  # K: the nearest f(z) among K * B fresh samples (1: the batch's own B)
    imle_matching: Matching = "nearest"  # or one_to_one: the images pull distinct samples (least total distance)
    lambda_imle_twice: NonNegativeFloat = 0.0  # l_m2: each image's matched f(z), applied again, pulled to it (0: off)
    metric_samples: NonNegativeInt = 10000  # samples scored against a split at evaluation (0: none)
    metric_classifier: str = "mnist-classifier"  # the feature network of the sample metrics
    # these change training only (the loss's weights and terms): a warm start may change them
    training_only = frozenset({"lambda_rec", "lambda_idem", "lambda_tight", "tight_clamp_ratio", "smooth_tight",
                               "tight_warmup", "dropout", "lambda_imle", "imle_pool", "imle_matching",
                               "lambda_imle_twice"})

    def __post_init__(self):
        super().__post_init__()
        check_pool(self.lambda_imle, self.imle_pool, self.imle_matching)
        if self.lambda_imle_twice > 0 and self.lambda_imle == 0:
            raise ValueError(f"model.lambda_imle_twice: {self.lambda_imle_twice} needs model.lambda_imle > 0 "
                             "(its samples are the ones L_imle matches)")


@register_model("ign")
class IGN(DCGANImageModel):
    """f = decoder . encoder (genzoo.models.ign.dcgan); ``sample(n)`` is f(z), ``sample(n, steps=k)`` applies f
    k times, ``project(x)`` applies f to any image in [0, 1] (a corrupted digit moves towards the data)."""

    config_class = IGNConfig
    quality_steps = 2  # f once and twice, and the idempotence gaps

    def __init__(self, config: IGNConfig):
        super().__init__(config)
        c = config.image_shape[0]
        self.net = nn.Sequential(encoder(c, config.width, config.norm, dropout=config.dropout),
                                 decoder(c, config.width, config.norm, dropout=config.dropout))
        dcgan_init_(self.net)
        self.fourier = FourierNoise(config.image_shape) if config.noise == "fourier" else None
        self.register_buffer("loss_calls", torch.zeros((), dtype=torch.int64))  # for the l_t warm-up

    # --- the network on [-1, 1] ---------------------------------------------------------------------------
    def f(self, y: torch.Tensor) -> torch.Tensor:
        """(B, C, 28, 28) on [-1, 1] -> (B, C, 28, 28) on [-1, 1]."""
        return self.net(y)

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """D(a, b): the mean over pixels of |a - b| or (a - b)^2, per example -> (B,)."""
        return per_example_distance(a, b, self.config.distance)

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, C, H, W) noise on the network's scale: white N(0, 1), or FFT noise fitted to the data."""
        white = self.randn(n, *self.config.image_shape, generator=generator)
        return self.fourier(white) if self.fourier is not None else white

    def fit_data(self, train) -> None:
        """FFT noise: the per-frequency statistics of the training images, once, before training."""
        if self.fourier is not None:
            self.fourier.fit(train.to_batch(*train.tensors()[:1]).to(self.device) * 2 - 1)

    # --- the objective ----------------------------------------------------------------------------------------
    def tight_weight(self) -> float:
        c = self.config
        if c.tight_warmup == 0:
            return c.lambda_tight
        return c.lambda_tight * min(1.0, (int(self.loss_calls) + 1) / c.tight_warmup)

    def imle(self, x: torch.Tensor, fz: torch.Tensor) -> dict[str, torch.Tensor]:
        """L_imle = mean_i min_j D(f(z_j), x_i) (genzoo.models.ign.imle), j over the batch's B samples, or over
        imle_pool * B fresh ones (with dropout, the chosen f(z) generated again draws other masks than the pool's);
        with l_m2 > 0 also L_imle_twice = mean_i D(f(f(z_m(i))), x_i), the same matched samples applied again."""
        c = self.config
        chosen = matched_samples(x, fz, self.noise, self.f, c.distance, c.imle_pool, c.imle_matching)  # (B, C, H, W)
        terms = {"imle": self.distance(chosen, x).mean()}
        if c.lambda_imle_twice > 0:  # gradient through both applications
            terms["imle_twice"] = self.distance(self.f(chosen), x).mean()
        return terms

    def smooth(self, tight: torch.Tensor, rec: torch.Tensor) -> torch.Tensor:
        """tanh(L_tight / (a L_rec)) a L_rec with L_rec detached (sec. 2.3), or L_tight unsmoothed."""
        if not self.config.smooth_tight:
            return tight
        bound = self.config.tight_clamp_ratio * rec.detach()
        return torch.tanh(tight / bound) * bound

    def loss(self, batch):
        x = self.check_images(batch)  # (B, C, H, W) on [-1, 1]
        z = self.noise(x.shape[0])
        terms = {"paper": self._paper, "single_loss": self._single_loss, "single_pass": self._single_pass}
        loss, metrics, fz = terms[self.config.form](x, z, self.tight_weight())
        if self.config.lambda_imle > 0:
            metrics.update(self.imle(x, fz))
            loss = loss + self.config.lambda_imle * metrics["imle"]
            loss = loss + self.config.lambda_imle_twice * metrics.get("imle_twice", 0.0)
        if self.training:
            self.loss_calls += 1
        return loss, {key: value.detach() for key, value in metrics.items()}

    def _paper(self, x, z, l_t):
        c = self.config
        fz = self.f(z)
        rec = self.distance(self.f(x), x).mean()
        idem = self.distance(frozen_call(self.net, fz), fz).mean()  # outer f frozen
        tight = -self.distance(self.f(fz.detach()), fz.detach()).mean()  # inner f frozen
        loss = c.lambda_rec * rec + c.lambda_idem * idem + l_t * self.smooth(tight, rec)
        return loss, {"rec": rec, "idem": idem, "tight": tight}, fz

    def _single_loss(self, x, z, l_t):
        c = self.config
        fz = self.f(z)
        rec = self.distance(self.f(x), x).mean()
        delta_fz = self.distance(self.f(fz), fz).mean()  # delta(f(z))
        delta_sg = self.distance(self.f(fz.detach()), fz.detach()).mean()  # delta(sg f(z)): the same value
        loss = c.lambda_rec * rec + c.lambda_idem * (delta_fz - delta_sg) + l_t * self.smooth(-delta_sg, rec)
        return loss, {"rec": rec, "idem": delta_fz, "tight": -delta_sg}, fz

    def _single_pass(self, x, z, l_t):
        c = self.config
        fx, fz = self.f(torch.cat([x, z])).chunk(2)  # one batched pass (GroupNorm is per example: exact)
        rec = self.distance(fx, x).mean()
        ffz, scale = call_with_gradient_scales(self.net, fz)  # the one outer application
        d = self.distance(ffz, fz.detach()).mean()  # = L_idem = -L_tight in value
        tight = -d
        with torch.enable_grad():  # smooth'(L_tight) at this point: the tightness term's slope
            t = tight.detach().requires_grad_(True)
            (slope,) = torch.autograd.grad(self.smooth(t, rec.detach()), t)
        scale(parameters=-l_t * slope, inputs=c.lambda_idem)  # d's gradient: params as l_t L_tight, f(z) as l_i L_idem
        # L_idem's path through its second argument, f(z) itself (the outer output held fixed)
        idem_direct = c.lambda_idem * self.distance(ffz.detach(), fz).mean()
        value = c.lambda_rec * rec + c.lambda_idem * d + l_t * self.smooth(tight, rec)  # the paper's L, for logs
        gradient_part = d + idem_direct
        loss = c.lambda_rec * rec + gradient_part - gradient_part.detach() + (value - c.lambda_rec * rec).detach()
        return loss, {"rec": rec, "idem": d, "tight": tight}, fz

    # --- images on [0, 1] ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def project(self, x: torch.Tensor, steps: int = 1) -> torch.Tensor:
        """f applied ``steps`` times to images in [0, 1] -> images in [0, 1]."""
        y = self.check_images(x)
        for _ in range(check_steps(steps)):
            y = self.f(y)
        return self.to_unit(y)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, steps: int = 1,
               all_steps: bool = False) -> torch.Tensor:
        """f applied ``steps`` times to noise -> (n, C, H, W) in [0, 1]; ``all_steps``: every application,
        (n, steps, C, H, W)."""
        y = self.noise(self.check_sample_count(n), generator)
        out = []
        for _ in range(check_steps(steps)):
            y = self.f(y)
            out.append(self.to_unit(y))
        return torch.stack(out, 1) if all_steps else out[-1]

    # --- evaluation ----------------------------------------------------------------------------------------------
    def evaluation_metrics(self, batch) -> dict[str, torch.Tensor]:
        """Per image: delta(x), how far f moves a real image."""
        x = self.check_images(batch)
        return {"rec": self.distance(self.f(x).float(), x)}

    @torch.no_grad()
    def write_preview(self, path, n: int = 64, seed: int = 0, reference=None):
        """``path``: a grid of one-step samples f(z); beside it ``<stem>_twice.png``, f(f(z)) for the same z, and,
        given ``reference`` images, ``<stem>_projections.png``: rows of corrupted test digits (pixel noise, the
        lower half masked, inverted), each above f of them."""
        path = Path(path)
        both = self.sample(n, generator=torch.Generator().manual_seed(seed), steps=2, all_steps=True)
        save_image_grid(both[:, 1], path.with_name(f"{path.stem}_twice.png"))
        if reference is not None:
            digits = reference().head(8)
            digits = (digits[0] if isinstance(digits, (tuple, list)) else digits).to(self.device)
            rows = []
            for corrupted in corruptions(digits, torch.Generator().manual_seed(seed)).values():
                rows += [corrupted, self.project(corrupted)]
            save_image_grid(torch.cat(rows), path.with_name(f"{path.stem}_projections.png"), nrow=digits.shape[0])
        return save_image_grid(both[:, 0], path)


def corruptions(x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Digits in [0, 1] made unlike the data: Gaussian pixel noise (sigma 0.3), the lower half masked to
    black, and inverted grey levels."""
    noise = torch.randn(x.shape, generator=generator).to(x.device) * 0.3
    masked = x.clone()
    masked[..., x.shape[-2] // 2:, :] = 0
    return {"noise": (x + noise).clamp(0, 1), "masked half": masked, "inverted": 1 - x}

__all__ = ["FORMS", "IGN", "IGNConfig"]
