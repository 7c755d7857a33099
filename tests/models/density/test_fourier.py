"""Fourier Basis Density Model: normalization, non-negativity, CDF, stable interval masses, exact sampling."""
from __future__ import annotations

import math

import pytest
import torch
from scipy import integrate, stats

from genzoo import create_model


def random_model(seed: int, N: int = 6, channels: int = 1, dtype=torch.float64):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = create_model("fourier1d", num_frequencies=N, channels=channels,
                         scale=float(torch.empty(1).uniform_(0.2, 3.0, generator=g)),
                         offset=float(torch.empty(1).uniform_(-2, 2, generator=g)), init_std=1.0).to(dtype)
    return model


def density(model, channel: int = 0):
    C = model.config.channels

    def f(y: float) -> float:
        v = torch.zeros(1, C, dtype=torch.float64)
        v[0, channel] = y
        return model.log_prob(v)[0, channel].exp().item()

    return f


@pytest.mark.parametrize("seed", range(4))
def test_density_integrates_to_one(seed):
    model = random_model(seed)
    total, _ = integrate.quad(density(model), -math.inf, math.inf, limit=1000, epsabs=1e-10)
    assert total == pytest.approx(1.0, abs=1e-6)


def test_every_channel_integrates_to_one():
    model = random_model(9, channels=3)
    for c in range(3):
        assert integrate.quad(density(model, c), -math.inf, math.inf, limit=1000)[0] == pytest.approx(1.0, abs=1e-6)


def test_density_is_non_negative_on_a_dense_grid():
    for seed in range(5):
        model = random_model(seed, N=20)
        x = torch.linspace(-1, 1, 200001, dtype=torch.float64)[:, None]
        assert model.density_on_interval(x).min() >= -1e-12


def test_autocorrelation_form_equals_squared_modulus():
    """1/2 + Re sum_n (c_n / c_0) e^{i pi n x} = |sum_k a_k e^{-i pi k x}|^2 / (2 c_0): why p is non-negative."""
    model = random_model(3)
    x = torch.linspace(-1, 1, 101, dtype=torch.float64)
    a = torch.view_as_complex(model.coefficients.detach().contiguous())[0]
    k = torch.arange(a.shape[0], dtype=torch.float64)
    modulus = (a[None, :] * torch.exp(-1j * math.pi * k[None, :] * x[:, None])).sum(1).abs() ** 2
    expected = modulus / (2 * (a.abs() ** 2).sum())
    torch.testing.assert_close(model.density_on_interval(x[:, None])[:, 0].detach(), expected)
    zero_width = torch.zeros(101, 1, dtype=torch.float64)
    torch.testing.assert_close(model._mean_on_interval(x[:, None], zero_width)[:, 0].detach(), expected)


def test_cdf_derivative_is_the_density():
    model = random_model(1, channels=2)
    y = torch.linspace(-4, 4, 41, dtype=torch.float64)[:, None].repeat(1, 2).requires_grad_(True)
    (grad,) = torch.autograd.grad(model.cdf(y).sum(), y)
    torch.testing.assert_close(grad, model.log_prob(y.detach()).exp().detach(), rtol=1e-8, atol=1e-12)


def test_cdf_limits_and_monotonicity():
    model = random_model(2)
    ends = model.cdf(torch.tensor([[-math.inf], [math.inf]], dtype=torch.float64)).flatten()
    assert ends.tolist() == [0.0, pytest.approx(1.0, abs=1e-12)]
    values = model.cdf(torch.linspace(-30, 30, 5001, dtype=torch.float64)[:, None]).flatten()
    assert (values.diff() >= -4e-16).all()  # non-decreasing up to rounding of values near 1


def test_interval_masses_over_a_partition_sum_to_one_and_stay_positive_in_the_tails():
    model = random_model(5)
    s, t = model.scale.item(), model.offset.item()
    edges = torch.cat([torch.tensor([-math.inf]), torch.linspace(t - 25 * s, t + 25 * s, 2001), torch.tensor([math.inf])])
    edges = edges.double()[:, None]
    masses = model.interval_mass(edges[:-1], edges[1:])
    assert masses.sum().item() == pytest.approx(1.0, abs=1e-9)
    assert (masses > 0).all()
    for side in (-1, 1):  # 1e-6-wide bins 20 scales out: ~1e-23 of mass, neither zero nor negative
        a = torch.full((1, 1), t + side * 20 * s, dtype=torch.float64) + torch.arange(5.0, dtype=torch.float64)[:, None] * 1e-6
        mass = model.interval_mass(a, a + 1e-6)
        assert (mass > 0).all()
        expected = model.log_prob(a + 5e-7).exp() * 1e-6  # midpoint rule, exact enough at this width
        torch.testing.assert_close(mass, expected, rtol=1e-6, atol=0)
    for dtype in (torch.float32,):  # also in float32
        m32 = model.to(dtype)
        a = torch.full((1, 1), t + 20 * s, dtype=dtype)
        assert m32.interval_mass(a, a + 1e-6 * max(1.0, abs(a.item()))).item() > 0
        model.double()


@pytest.mark.parametrize("seed", [0, 7])
def test_samples_pass_a_ks_test_against_the_cdf(seed):
    model = random_model(seed)
    y = model.sample(20000, generator=torch.Generator().manual_seed(seed))
    assert y.shape == (20000, 1)
    cdf = lambda v: model.cdf(torch.as_tensor(v, dtype=torch.float64)[:, None]).detach().numpy()[:, 0]  # noqa: E731
    assert stats.kstest(y[:, 0].numpy(), cdf).pvalue > 1e-3


def test_sampler_inverts_the_cdf_to_tolerance():
    model = random_model(4)
    g = torch.Generator().manual_seed(0)
    u = torch.rand(1000, 1, generator=g, dtype=torch.float64)
    y = model.sample(1000, generator=torch.Generator().manual_seed(0))
    x = torch.tanh((y - model.offset) / model.scale)
    F = model._cdf_on_interval(x)
    p = model.density_on_interval(x)
    assert ((F - u).abs() / p.clamp_min(1e-3)).max() < 1e-5  # error in x below ~1e-6 (with slack for p)


def test_float64_agrees_with_float32():
    m64 = random_model(6, channels=2)
    m32 = random_model(6, channels=2, dtype=torch.float32)
    y = torch.randn(1000, 2, dtype=torch.float64) * 3
    torch.testing.assert_close(m32.log_prob(y.float()).double(), m64.log_prob(y), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(m32.cdf(y.float()).double(), m64.cdf(y), rtol=0, atol=1e-5)


def test_regularizer_is_the_weighted_sum_of_squared_coefficients():
    model = random_model(8, N=3)
    ratio = model.autocorrelation().detach()[0]
    expected = sum((n + 1) ** 2 * abs(ratio[n].item()) ** 2 for n in range(3))
    assert model.regularizer().item() == pytest.approx(expected, rel=1e-6)
    with_reg = create_model("fourier1d", num_frequencies=3, regularization=0.5)
    y = torch.randn(10, 1)
    loss, metrics = with_reg.loss(y)
    assert loss.item() == pytest.approx(metrics["nll"].item() + 0.5 * with_reg.regularizer().item(), rel=1e-6)


@pytest.mark.parametrize("bad, error, message", [
    (torch.tensor([[float("nan")]]), ValueError, "finite"),
    (torch.tensor([[float("inf")]]), ValueError, "finite"),
    (torch.zeros(4, 2), ValueError, r"\(\.\.\., 1\)"),
    (torch.zeros(4, 1, dtype=torch.long), TypeError, "floating-point"),
])
def test_log_prob_rejects_bad_values(bad, error, message):
    with pytest.raises(error, match=message):
        create_model("fourier1d").log_prob(bad)


def test_bad_settings_raise_clear_errors():
    with pytest.raises(ValueError, match="num_frequencies"):
        create_model("fourier1d", num_frequencies=0)
    with pytest.raises(ValueError, match="scale"):
        create_model("fourier1d", scale=0.0)
    with pytest.raises(ValueError, match="a <= b"):
        create_model("fourier1d").interval_mass(torch.ones(1, 1), torch.zeros(1, 1))
    with pytest.raises(ValueError, match="NaN"):
        create_model("fourier1d").cdf(torch.tensor([[float("nan")]]))


def test_trains_through_the_shared_loop_and_round_trips(tmp_path):
    from genzoo import load_pretrained
    from genzoo.data import Splits, Toy1DData
    from genzoo.training import TrainConfig, train

    torch.manual_seed(0)
    model = create_model("fourier1d", num_frequencies=6, scale=0.3)
    config = TrainConfig(output_dir=str(tmp_path / "run"), batch_size=256, max_steps=150, lr=2e-2, eval_every=150,
                         save_every=150, preview_images=0, cpu=True)
    result = train(model, Splits(Toy1DData(target="gmm10")), config)
    loaded = load_pretrained(result["path"], architecture="fourier1d")
    assert result["metrics"]["test_nll"] < 0.0  # the uniform start on [-1, 1] mapped by s = 0.3 is about +0.3
    y = torch.linspace(-1, 1, 11)[:, None]
    torch.testing.assert_close(loaded.log_prob(y), model.log_prob(y))
