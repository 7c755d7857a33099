"""A small convolutional classifier of 28x28 digits whose penultimate layer is the feature space of the sample
metrics on MNIST (genzoo.metrics): the "classifier FID" of a model is the Frechet distance of its samples'
features from the test images' features, as FID uses Inception's on natural images (Heusel et al. 2017)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import Config, PositiveInt, UnitInterval
from genzoo.models.base import GenerativeModel
from genzoo.models.images import check_unit_images
from genzoo.preview import save_image_grid
from genzoo.registry import register_model
from genzoo.results import ResultsTable

CLASSIFIER_TABLE = ResultsTable(
    "classifier", (("checkpoint", "l"), ("architecture", "l"), ("parameters", "r"), ("data", "l"),
                   ("test accuracy", "r"), ("valid accuracy", "r"), ("feature dim", "r")), order=40)


@dataclass
class CNNClassifierConfig(Config):
    image_shape: tuple[PositiveInt, PositiveInt, PositiveInt] = (1, 28, 28)
    classes: PositiveInt = 10
    channels: PositiveInt = 32  # the second stage has twice as many
    features: PositiveInt = 128  # the penultimate layer: the feature space of the sample metrics
    dropout: UnitInterval = 0.25


def conv_stage(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3x3 convolutions and a 2x2 max-pool: (B, c_in, H, W) -> (B, c_out, H/2, W/2)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=1),
                         nn.ReLU(), nn.MaxPool2d(2))


@register_model("cnn_classifier")
class CNNClassifier(GenerativeModel):
    """Images in [0, 1] -> class logits; batches are ``(images, labels)`` (data: mnist with labels: true).

    ``features(x)`` is the penultimate layer (after its ReLU), ``logits(x)`` the output. Selected on valid by
    its error rate. It has no sampler; its preview shows the test digits it gets wrong.
    """

    config_class = CNNClassifierConfig
    selection_metric = "error"
    results_table = CLASSIFIER_TABLE

    def __init__(self, config: CNNClassifierConfig):
        super().__init__(config)
        c, h, w = config.image_shape
        if h % 4 or w % 4:
            raise ValueError(f"image height and width must be multiples of 4 (two 2x2 pools), got {h}x{w}")
        width = config.channels
        self.body = nn.Sequential(conv_stage(c, width), conv_stage(width, 2 * width), nn.Flatten(),
                                  nn.Dropout(config.dropout), nn.Linear(2 * width * (h // 4) * (w // 4),
                                                                        config.features), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.features, config.classes))

    @property
    def num_features(self) -> int:
        return self.config.features

    def check_images(self, x) -> torch.Tensor:
        return check_unit_images(x, self.config.image_shape, self.dtype)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B, features)."""
        return self.body(self.check_images(x))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B, classes)."""
        return self.head(self.features(x))

    def _labelled(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise ValueError("a classifier batch is (images, labels): train it on data: {name: mnist, labels: true}")
        x, y = batch
        x = self.check_nonempty(self.check_images(x))
        if y.dtype != torch.int64 or y.shape != x.shape[:1] or y.min() < 0 or y.max() >= self.config.classes:
            raise ValueError(f"labels must be int64 ({x.shape[0]},) in [0, {self.config.classes}), got {y.dtype} "
                             f"{tuple(y.shape)}")
        return x, y

    def loss(self, batch):
        x, y = self._labelled(batch)
        logits = self.head(self.body(x))
        loss = F.cross_entropy(logits.float(), y)
        return loss, {"error": (logits.argmax(1) != y).float().mean().detach()}

    def evaluation_metrics(self, batch) -> dict[str, torch.Tensor]:
        x, y = self._labelled(batch)
        logits = self.head(self.body(x)).float()
        return {"error": (logits.argmax(1) != y).float(), "nll": F.cross_entropy(logits, y, reduction="none")}

    def summarize_metrics(self, means: dict[str, torch.Tensor]) -> dict[str, float]:
        out = {key: float(value) for key, value in means.items()}
        out["accuracy"] = 1.0 - out["error"]
        return out

    @torch.no_grad()
    def write_preview(self, path, n: int = 64, seed: int = 0, reference=None):
        """Up to ``n`` test digits the classifier gets wrong (its confusions), in test order."""
        if reference is None:
            raise ValueError("a classifier preview shows its mistakes on real images and needs reference images")
        split = reference()
        images, labels = split.tensors()[:2]
        wrong = []
        for start in range(0, len(images), 1000):
            x = split.to_float(images[start:start + 1000]).to(self.device)
            predicted = self.logits(x).argmax(1).cpu()
            wrong.append(x.cpu()[predicted != labels[start:start + 1000]])
        return save_image_grid(torch.cat(wrong)[:n], path)

    def headline(self, report) -> tuple[str, str]:
        return f"accuracy {report.test['accuracy']:.2%}", "-"

    def results_row(self, report) -> list[str]:
        test, valid = report.test, report.valid
        return [f"`{report.name}`", self.architecture, f"{self.num_parameters():,}", report.dataset.describe(),
                f"{test['accuracy']:.2%}", f"{1 - valid['error']:.2%}" if "error" in valid else "-",
                str(self.num_features)]
