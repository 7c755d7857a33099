"""The GAN that IGN is a special case of, at IGN's size: generator G = IGN's decoder from a latent code,
critic D = IGN's encoder with spectral normalization (Miyato et al. 2018; ``critic_spectral: false``
for none) and a linear head.

Both players train in the one training loop from one loss whose stop-gradients route each term to its player
(simultaneous gradient steps):

    L = L_D(D; sg G(z)) + L_G(G; D frozen)

L_D sees the generated images detached, so only D takes its gradient; L_G scores G(z) with a functional call
of D on detached parameters and copied buffers (genzoo.models.ign.frozen), so only G takes its gradient and the
critic's spectral-norm vectors do not move. Losses: hinge (Lim & Ye 2017; Miyato et al. 2018, eq. 16-17) or the
non-saturating one (Goodfellow et al. 2014, sec. 3). ``lambda_imle`` adds to L_G the implicit-maximum-likelihood
term IGN may take (genzoo.models.ign.imle, L1): each real image pulls its nearest G(z) towards it, the nearest of
the batch's own samples or (``imle_pool`` K > 1) of K * B fresh ones; ``imle_matching: one_to_one`` makes the
images pull distinct samples (minibatch optimal transport).
``critic_minibatch_std`` gives the critic ProGAN's minibatch standard deviation (genzoo.models.ign.minibatch_std).
``critic_lr_scale`` gives the critic its own learning rate, that factor times the generator's: the two time-scale
update rule (TTUR; Heusel et al. 2017, sec. 2, whose GANs train D at 3-4x G's rate).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import Config, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from genzoo.models.ign.base import DCGANImageModel
from genzoo.models.ign.dcgan import dcgan_init_, decoder, encoder
from genzoo.models.ign.frozen import frozen_call
from genzoo.models.ign.imle import Matching, check_pool, imle_term
from genzoo.models.ign.minibatch_std import MinibatchStd
from genzoo.registry import register_model


def full_precision(scores: torch.Tensor) -> torch.Tensor:
    """Scores in float32 at least (bf16 / fp16 under autocast), float64 kept: the losses are sums of many."""
    return scores.to(torch.promote_types(scores.dtype, torch.float32))


@dataclass
class GANConfig(Config):
    image_shape: tuple[PositiveInt, PositiveInt, PositiveInt] = (1, 28, 28)
    width: PositiveInt = 64  # as IGN's: the latent code has 8 * width channels
    generator_norm: Literal["group", "none"] = "group"
    critic_norm: Literal["group", "none"] = "none"  # spectral normalization already bounds the critic
    critic_spectral: bool = True  # spectral normalization on every critic layer (False: none, as DCGAN's critic)
    critic_minibatch_std: NonNegativeInt = 0  # G >= 2: ProGAN's minibatch std over groups of G before the last layer
    loss: Literal["hinge", "non_saturating"] = "hinge"
    lambda_imle: NonNegativeFloat = 0.0  # each real image's nearest G(z) in the batch pulled to it, L1 (0: off)
    imle_pool: PositiveInt = 1  # K: the nearest G(z) among K * B fresh samples (1: the batch's own B)
    imle_matching: Matching = "nearest"  # or one_to_one: the images pull distinct samples (least total distance)
    critic_lr_scale: PositiveFloat = 1.0  # the critic's learning rate over the generator's (TTUR)
    # these change training only: a warm start may add them
    training_only = frozenset({"lambda_imle", "imle_pool", "imle_matching", "critic_lr_scale"})
    metric_samples: NonNegativeInt = 10000
    metric_classifier: str = "mnist-classifier"

    def __post_init__(self):
        super().__post_init__()
        check_pool(self.lambda_imle, self.imle_pool, self.imle_matching)
        if self.critic_minibatch_std == 1:
            raise ValueError("critic_minibatch_std: 1 would be the spread of one example; give 0 (off) or a "
                             "group size >= 2")


class Critic(nn.Module):
    """IGN's encoder, then a linear head: (B, C, 28, 28) on [-1, 1] -> (B,) scores; ``spectral``: every layer
    spectrally normalized (Miyato et al. 2018), else none (Radford et al. 2016's critic); ``minibatch_std`` G:
    the spread of a group of G examples' 4x4 features enters the last convolution as one more channel
    (genzoo.models.ign.minibatch_std; 8 width x 16 more weights)."""

    def __init__(self, channels: int, width: int, norm: str, spectral: bool = True, minibatch_std: int = 0):
        super().__init__()
        self.features = encoder(channels, width, norm, spectral=spectral)
        if minibatch_std:
            sn = nn.utils.parametrizations.spectral_norm if spectral else (lambda m: m)
            last = self.features[-1]  # (B, 4w, 4, 4) -> (B, 8w, 1, 1)
            self.features[-1] = MinibatchStd(minibatch_std)  # (B, 4w + 1, 4, 4)
            self.features.append(sn(nn.Conv2d(last.in_channels + 1, last.out_channels, last.kernel_size,
                                              last.stride, last.padding)))
        head = nn.Linear(8 * width, 1)
        self.head = nn.utils.parametrizations.spectral_norm(head) if spectral else head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1)).squeeze(1)


@register_model("gan")
class GAN(DCGANImageModel):
    config_class = GANConfig

    def __init__(self, config: GANConfig):
        super().__init__(config)
        c = config.image_shape[0]
        self.latent_channels = 8 * config.width
        self.generator = decoder(c, config.width, config.generator_norm)
        self.critic = Critic(c, config.width, config.critic_norm, config.critic_spectral,
                             config.critic_minibatch_std)
        dcgan_init_(self)

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.randn(n, self.latent_channels, 1, 1, generator=generator)

    def learning_rate_scale(self, parameter_name: str) -> float:
        return self.config.critic_lr_scale if parameter_name.startswith("critic.") else 1.0

    def critic_losses(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        if self.config.loss == "hinge":
            return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        if self.config.loss == "hinge":
            return -fake_scores.mean()
        return F.softplus(-fake_scores).mean()  # -log sigmoid(D(G(z))): non-saturating

    def critic_scores(self, x: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The critic's scores (B,) of real images and of samples: one pass over both, or one pass each with a
        minibatch standard deviation, whose groups must not mix the two."""
        if self.config.critic_minibatch_std:
            return self.critic(x), self.critic(fake)
        return self.critic(torch.cat([x, fake])).chunk(2)

    def imle(self, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """L_imle, L1 (genzoo.models.ign.imle): over the batch's own samples, or a pool of imle_pool * B."""
        return imle_term(x, fake, self.latent, self.generator, "l1", self.config.imle_pool, self.config.imle_matching)

    def loss(self, batch):
        x = self.check_images(batch)  # (B, C, H, W) on [-1, 1]
        fake = self.generator(self.latent(x.shape[0]))  # (B, C, H, W)
        real_scores, fake_scores = map(full_precision, self.critic_scores(x, fake.detach()))  # (B,) each
        critic_loss = self.critic_losses(real_scores, fake_scores)
        generator_loss = self.generator_loss(full_precision(frozen_call(self.critic, fake)))
        metrics = {"critic_loss": critic_loss.detach(), "generator_loss": generator_loss.detach(),
                   "real_score": real_scores.mean().detach(), "fake_score": fake_scores.mean().detach()}
        if self.config.lambda_imle > 0:  # a generator term: only G(z) carries its gradient
            imle = self.imle(x, fake)
            metrics["imle"] = imle.detach()
            generator_loss = generator_loss + self.config.lambda_imle * imle
        return critic_loss + generator_loss, metrics

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """G(T z) for n latent codes z ~ N(0, I) -> (n, C, H, W) in [0, 1]. ``temperature`` T < 1 draws the
        codes nearer the mode, z ~ N(0, T^2 I), as Glow samples at a reduced temperature (Kingma & Dhariwal 2018,
        sec. 5) and BigGAN truncates its codes (Brock et al. 2019, sec. 3.1); T = 1 is the trained generator.
        The generator's first GroupNorm divides the codes' scale out but for its layer's bias: a lower T weighs
        that bias, one image for all codes, against the code's own direction."""
        z = self.latent(self.check_sample_count(n), generator)  # (n, 8 width, 1, 1)
        return self.to_unit(self.generator(z * self.check_temperature(temperature)))

    def evaluation_metrics(self, batch) -> dict[str, torch.Tensor]:
        """Per image: the critic's score of real images (of the evaluated weights: with an EMA of weights the
        averaged spectral-norm vectors are no longer unit vectors, so the EMA critic's scale means nothing; the
        generator is what the EMA is kept for)."""
        return {"critic_score": self.critic(self.check_images(batch)).float()}
