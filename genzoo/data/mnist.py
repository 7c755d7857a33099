"""MNIST through torchvision's dataset class and raw layout, held as one uint8 tensor."""
from __future__ import annotations

import torch
from torchvision.datasets import MNIST

from genzoo.data.root import find_files

RAW_FILES = {
    True: ["MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/train-labels-idx1-ubyte"],
    False: ["MNIST/raw/t10k-images-idx3-ubyte", "MNIST/raw/t10k-labels-idx1-ubyte"],
}


def load_mnist_uint8(train: bool, root=None) -> torch.Tensor:
    """MNIST images as uint8 (N, 1, 28, 28); torchvision downloads into the cache dir only if none has them."""
    found = find_files(RAW_FILES[train], root, download=lambda target: MNIST(target, train=train, download=True))
    return MNIST(found, train=train, download=False).data.unsqueeze(1).contiguous()
