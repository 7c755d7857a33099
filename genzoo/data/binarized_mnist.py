"""Binarized MNIST: Larochelle & Murray's static binarization, or a fresh Bernoulli draw each epoch.

- ``static``: ``binarized_mnist_{train,valid,test}.amat[.gz]`` (Larochelle & Murray 2011, 50000/10000/10000
  rows of 784 values in {0, 1}). The text is checked by sha1, parsed once, and cached bit-packed.
- ``dynamic``: MNIST intensities / 255 as Bernoulli probabilities; the last 10000 training images are the valid
  split. Train is redrawn each epoch from (seed, epoch); valid and test are drawn once with fixed seeds, so
  their numbers are reproducible and comparable across runs.
"""
from __future__ import annotations

import gzip
import hashlib
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from genzoo.data.mnist import mnist_split
from genzoo.data.registry import DatasetConfig, check_split_name, register_dataset
from genzoo.data.root import cache_dir, find_files
from genzoo.data.splits import ImageSplit

SPLITS = ("train", "valid", "test")
SPLIT_SIZES = {"train": 50000, "valid": 10000, "test": 10000}
SHA1 = {
    "train": "cf70514ec5f481e54ad3eb0e6c03c83326ff96f8",
    "valid": "13418487742e6ea6d48db7b5187353a20b1b1f8c",
    "test": "ca70bd7775e182596dec148d4dc1bc6bd6c4c5f4",
}
SOURCE = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/binarized_mnist_{split}.amat"
SUBDIR = "binarized_mnist"
# Seeds of the fixed draws of the dynamic valid and test splits (shared by every run).
DYNAMIC_EVAL_SEEDS = {"valid": 20111, "test": 20112}


def _download_static(target: Path) -> None:
    folder = target / SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        dest = folder / f"binarized_mnist_{split}.amat"
        tmp = dest.with_suffix(".part")
        urllib.request.urlretrieve(SOURCE.format(split=split), tmp)
        tmp.replace(dest)


def _locate_static(split: str, root) -> Path:
    """The ``.amat`` or ``.amat.gz`` file of ``split``, searched in every data root."""
    for name in (f"binarized_mnist_{split}.amat.gz", f"binarized_mnist_{split}.amat"):
        try:
            return find_files([f"{SUBDIR}/{name}"], root) / SUBDIR / name
        except FileNotFoundError:
            continue
    name = f"{SUBDIR}/binarized_mnist_{split}.amat"
    return find_files([name], root, download=_download_static) / name


def parse_amat(text: bytes, split: str) -> np.ndarray:
    """Rows of space-separated 0/1 values -> uint8 array (N, 784), after checking the sha1 of ``text``."""
    digest = hashlib.sha1(text).hexdigest()
    if digest != SHA1[split]:
        raise ValueError(f"binarized MNIST {split}: sha1 {digest} of the uncompressed text is not {SHA1[split]}")
    values = np.array(text.split(), dtype=np.uint8)  # bytes b"0"/b"1" -> 0/1
    if values.size != SPLIT_SIZES[split] * 784:
        raise ValueError(f"binarized MNIST {split}: {values.size} values, expected {SPLIT_SIZES[split]} x 784")
    return values.reshape(SPLIT_SIZES[split], 784)


def load_static(split: str, root=None) -> torch.Tensor:
    """Static binarized MNIST ``split`` as a uint8 tensor (N, 1, 28, 28) of 0/1, via a bit-packed cache."""
    check_split_name(split)
    cached = cache_dir() / SUBDIR / f"{split}-{SHA1[split][:12]}.npy"
    if cached.is_file():
        packed = np.load(cached, allow_pickle=False)
    else:
        path = _locate_static(split, root)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            bits = parse_amat(fh.read(), split)
        packed = np.packbits(bits, axis=1)  # (N, 98): 8x smaller, loads in milliseconds
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(cached.name + ".tmp.npy")
        np.save(tmp, packed)
        tmp.replace(cached)  # atomic: a killed parse never leaves half a cache
    bits = np.unpackbits(packed, axis=1, count=784)
    return torch.from_numpy(bits).view(-1, 1, 28, 28)


def bernoulli_draw(intensities: torch.Tensor, seed: int) -> torch.Tensor:
    """One seeded Bernoulli draw of uint8 intensities in [0, 255] -> uint8 0/1 of the same shape."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(intensities.shape, generator=g)
    return (u * 255 < intensities).to(torch.uint8)


def load_dynamic_intensities(split: str, root=None) -> torch.Tensor:
    """MNIST intensities (uint8) of the dynamic ``split``: train = first 50000, valid = last 10000 of train."""
    return mnist_split(split, root)[0]


@register_dataset("binarized_mnist")
@dataclass
class BinarizedMNISTData(DatasetConfig):
    """Binarized MNIST, 50000 / 10000 / 10000 images (N, 1, 28, 28) in {0, 1}."""

    binarization: Literal["static", "dynamic"] = "static"
    root: str | None = None  # data root; None: $GENZOO_DATA, then the user cache dir

    def load(self, split: str, seed: int = 0) -> ImageSplit:
        if self.binarization == "static":
            return ImageSplit(load_static(split, self.root), scale=1.0)
        intensities = load_dynamic_intensities(split, self.root)
        if split == "train":
            return ImageSplit(intensities, scale=1.0, redraw_seed=seed)
        return ImageSplit(bernoulli_draw(intensities, DYNAMIC_EVAL_SEEDS[split]), scale=1.0)

    def describe(self) -> str:
        return f"{self.name} ({self.binarization})"
