"""Baseline 1-D densities (Gaussian mixture, Balle's deep factorized model): the same checks as the Fourier model."""
from __future__ import annotations

import math

import pytest
import torch
from scipy import integrate, stats

from genzoo import create_model

BASELINES = {"gmm": ("gmm1d", {"components": 4}), "deep-factorized": ("deep_factorized1d", {"filters": (3, 3)})}


def random_baseline(key: str, seed: int = 0):
    torch.manual_seed(seed)
    name, overrides = BASELINES[key]
    model = create_model(name, **overrides).double()
    with torch.no_grad():  # away from the initial symmetric state
        for p in model.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("key", list(BASELINES))
def test_density_integrates_to_one(key):
    model = random_baseline(key)
    f = lambda y: model.log_prob(torch.tensor([[y]], dtype=torch.float64)).exp().item()  # noqa: E731
    assert integrate.quad(f, -math.inf, math.inf, limit=1000)[0] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("key", list(BASELINES))
def test_cdf_derivative_is_the_density(key):
    model = random_baseline(key)
    y = torch.linspace(-8, 8, 81, dtype=torch.float64)[:, None].requires_grad_(True)
    (grad,) = torch.autograd.grad(model.cdf(y).sum(), y)
    torch.testing.assert_close(grad, model.log_prob(y.detach()).exp().detach(), rtol=1e-7, atol=1e-12)
    ends = model.cdf(torch.tensor([[-math.inf], [math.inf]], dtype=torch.float64)).flatten().tolist()
    assert ends == [0.0, 1.0]


@pytest.mark.parametrize("key", list(BASELINES))
def test_samples_pass_a_ks_test_against_the_cdf(key):
    model = random_baseline(key)
    y = model.sample(20000, generator=torch.Generator().manual_seed(1))
    cdf = lambda v: model.cdf(torch.as_tensor(v, dtype=torch.float64)[:, None]).detach().numpy()[:, 0]  # noqa: E731
    assert stats.kstest(y[:, 0].numpy(), cdf).pvalue > 1e-3


def test_deep_factorized_parameter_count_matches_the_paper_default():
    assert create_model("deep_factorized1d").num_parameters() == 43  # (3, 3, 3): 24 + 10 + 9


@pytest.mark.parametrize("name", ["fourier1d", "gmm1d", "deep_factorized1d"])
def test_low_precision_inputs_are_computed_in_float32(name):
    """bf16 inputs used to run the CDF in bf16 (off by up to 0.105 for the Fourier model)."""
    from genzoo import create_model

    torch.manual_seed(0)
    model = create_model(name)
    y = torch.linspace(-3, 3, 401)[:, None].bfloat16()
    for method in ("cdf", "log_prob"):
        low, full = getattr(model, method)(y), getattr(model, method)(y.float())
        assert low.dtype == torch.bfloat16
        assert torch.allclose(low.float(), full.bfloat16().float(), rtol=0, atol=1e-6), method


@pytest.mark.parametrize("name", ["fourier1d", "gmm1d", "deep_factorized1d"])
def test_cdf_stays_in_the_unit_interval(name):
    from genzoo import create_model

    torch.manual_seed(0)
    cdf = create_model(name).cdf(torch.tensor([[-1e30], [-50.0], [0.0], [50.0], [1e30]]))
    assert (cdf >= 0).all() and (cdf <= 1).all()
    assert cdf[-1].item() == 1.0 and cdf[0].item() == 0.0


@pytest.mark.parametrize("name, overrides, message", [
    ("fourier1d", {"offset": float("nan")}, r"model.offset=nan: expected a number"),
    ("fourier1d", {"channels": 0}, r"model.channels=0"),
    ("fourier1d", {"regularization": -1.0}, r"model.regularization=-1.0"),
    ("gmm1d", {"components": 0}, r"model.components=0"),
    ("deep_factorized1d", {"filters": (3, 0)}, r"model.filters=\(3, 0\)"),
])
def test_density_options_that_cannot_work_are_refused(name, overrides, message):
    with pytest.raises(ValueError, match=message):
        create_model(name, **overrides)
