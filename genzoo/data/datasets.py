"""The one entry point to every dataset: ``DataConfig`` -> in-memory ``ImageSplit``s."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from genzoo.data import binarized_mnist, toy1d
from genzoo.data.mnist import load_mnist_uint8

DATASETS = ("binarized_mnist", "mnist", "toy1d")
BINARIZATIONS = ("static", "dynamic")


@dataclass
class DataConfig:
    name: str = "binarized_mnist"  # binarized_mnist | mnist | toy1d
    binarization: str = "static"  # static | dynamic (binarized_mnist only)
    root: str | None = None  # data root; None: $GENZOO_DATA, then the user cache dir
    target: str = "gmm10"  # toy1d: a target of genzoo.data.toy1d.TARGETS, or "file" to read ``path``
    path: str | None = None  # toy1d with target "file": a .npy array or the first column of a .csv

    def __post_init__(self):
        if self.name not in DATASETS:
            raise ValueError(f"unknown dataset {self.name!r}; datasets: {', '.join(DATASETS)}")
        if self.binarization not in BINARIZATIONS:
            raise ValueError(f"unknown binarization {self.binarization!r}; choose from {', '.join(BINARIZATIONS)}")
        if self.name == "toy1d" and self.target != "file":
            toy1d.target(self.target)  # an unknown target is an error naming the known ones
        if self.name == "toy1d" and self.target == "file" and not self.path:
            raise ValueError("data.target: file needs data.path (a .npy or .csv file)")


class SampleSplit:
    """Rows of real numbers (N, C) held in memory as float32 (1-D densities: C = 1); the same interface as
    ``ImageSplit`` (``images`` returns the rows), so the batch loader and evaluation serve both."""

    def __init__(self, data: torch.Tensor):
        if not data.is_floating_point() or data.dim() != 2:
            raise ValueError(f"SampleSplit wants float (N, C), got {data.dtype} {tuple(data.shape)}")
        self.data = data

    def __len__(self) -> int:
        return self.data.shape[0]

    def images(self, epoch: int = 0) -> torch.Tensor:
        return self.data

    def to_float(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.float()


class ImageSplit:
    """One split held in memory as a uint8 tensor (N, C, H, W); batches are sliced, never decoded.

    ``scale`` maps stored values to [0, 1] floats (1 for binary data, 255 for grey levels). A split built with
    ``redraw_seed`` holds intensities and returns a fresh Bernoulli draw for each epoch (dynamic binarization).
    """

    def __init__(self, data: torch.Tensor, scale: float, redraw_seed: int | None = None):
        if data.dtype != torch.uint8 or data.dim() != 4:
            raise ValueError(f"ImageSplit wants uint8 (N, C, H, W), got {data.dtype} {tuple(data.shape)}")
        self.data, self.scale, self.redraw_seed = data, scale, redraw_seed
        self._drawn: tuple[int, torch.Tensor] | None = None

    def __len__(self) -> int:
        return self.data.shape[0]

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape[1:])

    def images(self, epoch: int = 0) -> torch.Tensor:
        """The uint8 images of ``epoch`` (the same every epoch unless the split is redrawn)."""
        if self.redraw_seed is None:
            return self.data
        if self._drawn is None or self._drawn[0] != epoch:
            # A seed per (run seed, epoch): resuming mid-run redraws the very same epoch.
            seed = (self.redraw_seed * 1_000_003 + epoch) % (2**63)
            self._drawn = (epoch, binarized_mnist.bernoulli_draw(self.data, seed))
        return self._drawn[1]

    def to_float(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 batch -> float32 in [0, 1] (values {0, 1} for binary data)."""
        return batch.float() / self.scale if self.scale != 1 else batch.float()


def pretrained_data_config(model, root: str | None = None) -> DataConfig:
    """The dataset a loaded checkpoint was trained on (from its metadata), read from ``root`` if given."""
    from genzoo.config import config_from_dict

    dataset = dict(getattr(model, "pretrained_metadata", {}).get("dataset") or {})
    return config_from_dict(DataConfig, {**dataset, "root": root or dataset.get("root")}, where="checkpoint dataset")


def load_split(config: DataConfig, split: str, seed: int = 0) -> ImageSplit | SampleSplit:
    """Split ``train`` / ``valid`` / ``test`` of the dataset ``config`` names; ``seed`` drives dynamic redraws."""
    if config.name == "toy1d":
        if config.target == "file":
            values = toy1d.split_column(toy1d.load_column(config.path), split)
        else:
            values = toy1d.sample_target(config.target, split)
        return SampleSplit(torch.from_numpy(values).float()[:, None])
    if config.name == "mnist":
        images = load_mnist_uint8(train=split != "test", root=config.root)
        images = {"train": images[:50000], "valid": images[50000:], "test": images}[split]
        return ImageSplit(images, scale=255.0)
    if config.binarization == "static":
        return ImageSplit(binarized_mnist.load_static(split, config.root), scale=1.0)
    intensities = binarized_mnist.load_dynamic_intensities(split, config.root)
    if split == "train":
        return ImageSplit(intensities, scale=1.0, redraw_seed=seed)
    fixed = binarized_mnist.bernoulli_draw(intensities, binarized_mnist.DYNAMIC_EVAL_SEEDS[split])
    return ImageSplit(fixed, scale=1.0)
