"""Every family's loss() is a public boundary: bad batches raise a ValueError naming the problem, integer and
boolean batches of valid values are taken, and an empty batch is an error rather than a NaN loss."""
from __future__ import annotations

import pytest
import torch

from genzoo import create_model

IMAGES = {"fvsbn": {"image_shape": (1, 3, 4)}, "nade": {"image_shape": (1, 3, 4), "hidden": 4},
          "made": {"image_shape": (1, 3, 4), "hidden": 5, "num_masks": 2}}
SHAPE = (5, 1, 3, 4)


def binary(dtype=torch.float32):
    return (torch.rand(*SHAPE, generator=torch.Generator().manual_seed(0)) < 0.5).to(dtype)


@pytest.mark.parametrize("name", sorted(IMAGES))
@pytest.mark.parametrize("bad, message", [
    (lambda: binary().index_fill_(0, torch.tensor([1]), float("nan")), "binary"),
    (lambda: binary().index_fill_(0, torch.tensor([1]), float("inf")), "binary"),
    (lambda: torch.full(SHAPE, 0.5), "found e.g. 0.5"),
    (lambda: binary(torch.uint8) * 255, "found e.g. 255"),
    (lambda: binary()[:, :, :2], r"expected shape \(B, 1, 3, 4\)"),
    (lambda: binary()[:0], "empty batch"),
])
def test_autoregressive_loss_refuses_bad_batches(name, bad, message):
    with pytest.raises(ValueError, match=message):
        create_model(name, **IMAGES[name]).loss(bad())


@pytest.mark.parametrize("name", sorted(IMAGES))
@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.bool])
def test_autoregressive_loss_takes_integer_and_boolean_binary_batches(name, dtype):
    torch.manual_seed(0)
    model = create_model(name, **IMAGES[name]).eval()  # eval: MADE keeps mask 0 instead of cycling
    loss, _ = model.loss(binary(dtype))
    assert torch.allclose(loss, model.loss(binary())[0])


@pytest.mark.parametrize("bad, message", [
    (torch.full((2, 1, 28, 28), float("nan")), r"finite with values in \[0, 1\]"),
    (torch.full((2, 1, 28, 28), 255, dtype=torch.uint8), "divide by 255"),
    (torch.zeros(0, 1, 28, 28), "empty batch"),
    (torch.zeros(2, 28, 28), "expected images of shape"),
])
def test_autoencoder_loss_refuses_bad_batches(bad, message):
    with pytest.raises(ValueError, match=message):
        create_model("vqvae", channels=4, res_blocks=0, codebook_size=8, code_dim=2).loss(bad)


@pytest.mark.parametrize("name", ["fourier1d", "gmm1d", "deep_factorized1d"])
@pytest.mark.parametrize("bad, error, message", [
    (torch.tensor([[0.1], [float("nan")]]), ValueError, "finite"),
    (torch.tensor([[0.1], [float("inf")]]), ValueError, "finite"),
    (torch.zeros(0, 1), ValueError, "empty batch"),
    (torch.zeros(3, 2), ValueError, "channels last"),
    (torch.zeros(3, 1, dtype=torch.int64), TypeError, "floating-point"),
])
def test_density_loss_refuses_bad_batches(name, bad, error, message):
    with pytest.raises(error, match=message):
        create_model(name).loss(bad)
