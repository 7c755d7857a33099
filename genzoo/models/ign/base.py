"""What IGN and the same-size GAN share: 28x28 images on [0, 1] outside and [-1, 1] inside the DCGAN networks,
no likelihood (so no best-on-valid selection), and sample quality as their split metric and results table."""
from __future__ import annotations

import torch

from genzoo.metrics.quality import SAMPLE_QUALITY_TABLE, SampleQuality, sample_quality_headline, sample_quality_row
from genzoo.models.base import GenerativeModel
from genzoo.models.images import check_unit_images


class DCGANImageModel(GenerativeModel):
    """Base of IGN and GAN; configs carry ``image_shape``, ``metric_samples`` and ``metric_classifier``.
    ``quality_steps``: score ``sample(n, steps=k)`` for k up to it as well (models that iterate), or None."""

    selection_metric = None  # no likelihood: the final (or EMA) weights are exported
    results_table = SAMPLE_QUALITY_TABLE
    curve_metrics = ("fid", "fid_2")  # a dozen sample metrics on one axis would hide each other
    quality_steps: int | None = None

    def __init__(self, config):
        super().__init__(config)
        if tuple(config.image_shape[1:]) != (28, 28):
            raise ValueError(f"the DCGAN networks are built for 28x28 images, got image_shape {config.image_shape}")
        self.quality = SampleQuality(config.metric_classifier, config.metric_samples)

    def check_images(self, x) -> torch.Tensor:
        """Images (B, C, 28, 28) on [0, 1] -> the network's scale [-1, 1], in the model's dtype and device."""
        x = self.check_nonempty(check_unit_images(x, self.config.image_shape, self.dtype))
        return x.to(self.device, self.dtype) * 2 - 1

    @staticmethod
    def to_unit(y: torch.Tensor) -> torch.Tensor:
        """The network's [-1, 1] -> images on [0, 1] (float32 at least)."""
        return ((y.float() + 1) / 2).clamp(0, 1)

    def split_metrics(self, split, accelerator, samples: int | None = None) -> dict[str, float]:
        return self.quality.score(self, split, accelerator, steps=self.quality_steps, samples=samples)

    @property
    def metric_samples(self) -> int:
        return self.quality.samples

    def results_row(self, report) -> list[str]:
        return sample_quality_row(report)

    def headline(self, report) -> tuple[str, str]:
        return sample_quality_headline(report)
