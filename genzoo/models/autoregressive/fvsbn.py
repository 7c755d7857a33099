"""FVSBN: the fully visible sigmoid belief network (Neal 1992; Frey 1998), p(x_d | x_<d) = sigmoid(b_d + w_d . x_<d).

One strictly lower-triangular masked linear layer with logistic conditionals. That is exactly a MADE with no
hidden layer (its output mask is [p(j) < p(d)]), so FVSBN reuses MADE's masks, likelihood and incremental
sampler rather than keeping a copy of them.
"""
from __future__ import annotations

from dataclasses import dataclass

from genzoo.config import Config, NonNegativeFloat, PositiveInt
from genzoo.models.autoregressive.made import MADE, MADEConfig
from genzoo.registry import register_model


@dataclass
class FVSBNConfig(Config):
    image_shape: tuple[PositiveInt, ...] = (1, 28, 28)
    weight_l1: NonNegativeFloat = 0.0  # lambda of the training penalty lambda * sum |w_dj| (see MADE.penalty)


@register_model("fvsbn")
class FVSBN(MADE):
    config_class = FVSBNConfig

    def made_config(self) -> MADEConfig:
        return MADEConfig(image_shape=self.config.image_shape, hidden=0, layers=0, num_masks=1, order="natural",
                          weight_l1=self.config.weight_l1)
