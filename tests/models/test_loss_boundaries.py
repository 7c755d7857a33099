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


@pytest.mark.parametrize("name", sorted(IMAGES) + ["deepnade"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_autoregressive_models_take_binary_batches_of_any_floating_dtype(name, dtype):
    """0 and 1 are exact in every floating dtype: such a batch is valid data, computed in the model's dtype."""
    torch.manual_seed(0)
    model = create_model(name, **IMAGES.get(name, {"image_shape": (1, 3, 4), "hidden": 4})).eval()
    log_prob = model.log_prob(binary(dtype))
    assert log_prob.dtype == torch.float32 and torch.equal(log_prob, model.log_prob(binary()))
    if name != "deepnade":  # its loss draws random orderings; its log_prob above is the exact mixture
        assert torch.equal(model.loss(binary(dtype))[0], model.loss(binary())[0])


@pytest.mark.parametrize("quantizer", ["vq", "fsq"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_autoencoders_take_images_of_any_floating_dtype(quantizer, dtype):
    torch.manual_seed(0)
    model = create_model("vqvae", quantizer=quantizer, channels=4, res_blocks=0).eval()
    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    exact = images.to(dtype).float()  # what the batch holds, in the model's dtype
    assert torch.equal(model.encode(images.to(dtype)), model.encode(exact))
    assert torch.equal(model.loss(images.to(dtype))[0], model.loss(exact)[0])
    with pytest.raises(ValueError, match=r"empty batch \(shape \(0, 1, 28, 28\)\): encode needs at least one"):
        model.encode(images[:0])


@pytest.mark.parametrize("name", ["fourier1d", "gmm1d", "deep_factorized1d"])
def test_densities_give_nothing_for_no_values_and_name_mismatched_interval_ends(name):
    model = create_model(name)
    for method in (model.log_prob, model.cdf):
        assert method(torch.zeros(0, 1)).shape == (0, 1)
    with pytest.raises(ValueError, match=r"interval ends of shapes \(3, 1\) and \(2, 1\) do not broadcast"):
        model.interval_mass(torch.zeros(3, 1), torch.ones(2, 1))
    assert model.interval_mass(torch.zeros(3, 1), torch.ones(1, 1)).shape == (3, 1)  # broadcasting ends are fine
