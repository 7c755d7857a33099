"""MNIST through torchvision's dataset class and raw layout, held as one uint8 tensor (and its labels)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision.datasets import MNIST

from genzoo.data.registry import DatasetConfig, check_split_name, register_dataset
from genzoo.data.root import find_files
from genzoo.data.splits import ImageSplit

RAW_FILES = {
    True: ["MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/train-labels-idx1-ubyte"],
    False: ["MNIST/raw/t10k-images-idx3-ubyte", "MNIST/raw/t10k-labels-idx1-ubyte"],
}
VALID_SIZE = 10000  # the last 10000 training images are the valid split


def load_mnist(train: bool, root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST images as uint8 (N, 1, 28, 28) and labels as int64 (N,); torchvision downloads into the cache dir
    only if no data root has them."""
    found = find_files(RAW_FILES[train], root, download=lambda target: MNIST(target, train=train, download=True))
    dataset = MNIST(found, train=train, download=False)
    return dataset.data.unsqueeze(1).contiguous(), dataset.targets.long()


def mnist_split(split: str, root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, labels) of ``split``: train = the first 50000 training images, valid = the last 10000."""
    check_split_name(split)
    images, labels = load_mnist(train=split != "test", root=root)
    rows = {"train": slice(0, -VALID_SIZE), "valid": slice(-VALID_SIZE, None), "test": slice(None)}[split]
    return images[rows], labels[rows]


@register_dataset("mnist")
@dataclass
class MNISTData(DatasetConfig):
    """MNIST grey levels in [0, 1], 50000 / 10000 / 10000 images; with ``labels`` batches are (images, digits)."""

    root: str | None = None  # data root; None: $GENZOO_DATA, then the user cache dir
    labels: bool = False

    def load(self, split: str, seed: int = 0) -> ImageSplit:
        images, labels = mnist_split(split, self.root)
        return ImageSplit(images, scale=255.0, labels=labels if self.labels else None)
