"""Mathematical checks shared by every autoregressive model: masks, normalization, sampler, bad inputs."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy import stats

from genzoo import create_model

SMALL = (1, 2, 5)  # D = 10: all 2^10 binary images can be enumerated
# name, overrides: every architecture, MADE in its deep, random-order and mask-ensemble forms, DeepNADE with
# one ordering and as an ensemble of orderings
MODELS = {
    "fvsbn": ("fvsbn", {}),
    "nade": ("nade", {"hidden": 7}),
    "made": ("made", {"hidden": 12}),
    "made-deep": ("made", {"hidden": 12, "layers": 3}),
    "made-ensemble": ("made", {"hidden": 12, "layers": 2, "num_masks": 4, "order": "random"}),
    "made-direct": ("made", {"hidden": 12, "order": "random", "direct": True}),
    "made-ensemble-direct": ("made", {"hidden": 12, "layers": 2, "num_masks": 3, "order": "random", "direct": True}),
    "deepnade": ("deepnade", {"hidden": 9}),
    "deepnade-ensemble": ("deepnade", {"hidden": 9, "layers": 3, "num_orderings": 3}),
}


def small_model(key: str, dtype=torch.float64):
    name, overrides = MODELS[key]
    model = create_model(name, image_shape=SMALL, **overrides).to(dtype)
    with torch.no_grad():  # larger weights than the initial ones, so every conditional is far from 1/2
        for p in model.parameters():
            p.normal_(0, 1.0)
    return model.eval()


def all_binary_images(d: int = 10, dtype=torch.float64) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0, 1], repeat=d)), dtype=dtype).view(-1, *SMALL)


@pytest.mark.parametrize("key", list(MODELS))
def test_conditionals_depend_only_on_earlier_pixels(key):
    """Gradient check of the autoregressive property: d logit_d / d x_j = 0 unless j comes before d."""
    model = small_model(key)
    for mask in range(model.num_masks):
        x = torch.rand(1, 10, dtype=torch.float64)  # continuous inputs: every path shows in the Jacobian
        jac = torch.autograd.functional.jacobian(lambda v: model.conditional_logits(v, mask)[0], x)[:, 0, :]
        position = torch.empty(10, dtype=torch.long)
        position[model.ordering(mask)] = torch.arange(10)
        allowed = position[None, :] < position[:, None]  # [d, j]: j strictly before d
        assert torch.all(jac[~allowed] == 0), f"mask {mask}: output depends on a later or the same input"
        assert jac[allowed].abs().sum() > 0, "no dependence at all: the check would pass vacuously"


@pytest.mark.parametrize("key", list(MODELS))
def test_exact_normalization_over_all_binary_images(key):
    model = small_model(key)
    total = torch.logsumexp(model.log_prob(all_binary_images()), dim=0).exp()
    assert abs(total.item() - 1.0) < 1e-10


def test_ensemble_is_mixture_not_average_of_logits():
    model = small_model("made-ensemble")
    x = all_binary_images()[:50]
    per_mask = torch.stack([model._mask_log_prob(x.flatten(1), k) for k in range(model.num_masks)])
    expected = torch.log(per_mask.exp().mean(0))
    torch.testing.assert_close(model.log_prob(x), expected)


@pytest.mark.parametrize("key", list(MODELS))
def test_sampler_matches_log_prob_chi_square(key):
    model = small_model(key, dtype=torch.float32)
    n = 40000
    samples = model.sample(n, generator=torch.Generator().manual_seed(1)).flatten(1)
    codes = (samples.long() * (2 ** torch.arange(9, -1, -1))).sum(1)  # same bit order as itertools.product
    observed = torch.bincount(codes, minlength=1024).numpy()
    expected = model.log_prob(all_binary_images(dtype=torch.float32)).detach().double().exp().numpy() * n
    # Pool outcomes with small expected counts so the chi-square approximation holds.
    big = expected >= 5
    obs = np.append(observed[big], observed[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    obs, exp = (obs, exp) if exp[-1] > 0 else (obs[:-1], exp[:-1])
    p_value = stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue
    assert p_value > 1e-3, f"samples do not follow exp(log_prob): p = {p_value:.2e}"


@pytest.mark.parametrize("key", list(MODELS))
def test_incremental_and_naive_samplers_agree(key):
    model = small_model(key, dtype=torch.float32)
    fast = model.sample(200, generator=torch.Generator().manual_seed(3))
    slow = model.sample_naive(200, generator=torch.Generator().manual_seed(3))
    assert fast.shape == (200, *SMALL)
    assert torch.equal(fast, slow)
    assert 0 < fast.mean() < 1


def test_samples_are_seeded():
    model = small_model("made", dtype=torch.float32)
    a = model.sample(20, generator=torch.Generator().manual_seed(5))
    b = model.sample(20, generator=torch.Generator().manual_seed(5))
    c = model.sample(20, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("key", list(MODELS))
@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.full((2, *SMALL), 0.5), "binary"),
        (torch.full((2, *SMALL), 2.0), "binary"),
        (torch.zeros(2, 10), "shape"),
        (torch.zeros(2, 1, 5, 2), "shape"),
        (torch.full((2, *SMALL), float("nan")), "NaN"),
    ],
)
def test_log_prob_rejects_bad_inputs(key, bad, message):
    model = small_model(key, dtype=torch.float32)
    with pytest.raises(ValueError, match=message):
        model.log_prob(bad)


def test_log_prob_accepts_integer_and_bool_images():
    model = small_model("nade", dtype=torch.float32)
    x = all_binary_images(dtype=torch.float32)[:8]
    torch.testing.assert_close(model.log_prob(x.bool()), model.log_prob(x))


def test_made_masks_rebuilt_from_stored_orders():
    model = small_model("made-ensemble")
    other = create_model("made", image_shape=SMALL, hidden=12, layers=2, num_masks=4, order="random", mask_seed=99)
    other = other.to(torch.float64)
    assert not torch.equal(other.mask0, model.mask0)
    other.load_state_dict(model.state_dict())
    assert torch.equal(other.mask0, model.mask0)
    torch.testing.assert_close(other.log_prob(all_binary_images()), model.log_prob(all_binary_images()))


def test_made_training_cycles_through_masks():
    model = small_model("made-ensemble").train()
    seen = [model.training_mask() for _ in range(8)]
    assert seen == [0, 1, 2, 3, 0, 1, 2, 3]


def test_made_direct_path_is_the_masked_input_to_output_layer():
    """With the hidden path silenced, logits are exactly W_direct * [p(j) < p(d)] x: the FVSBN beside the MLP."""
    model = small_model("made-ensemble-direct")
    with torch.no_grad():
        for layer in model.net:
            layer.weight.zero_()
    for mask in range(model.num_masks):
        x = torch.rand(1, 10, dtype=torch.float64)
        jac = torch.autograd.functional.jacobian(lambda v: model.conditional_logits(v, mask)[0], x)[:, 0, :]
        position = torch.empty(10, dtype=torch.long)
        position[model.ordering(mask)] = torch.arange(10)
        expected = model.direct.weight * (position[None, :] < position[:, None])
        torch.testing.assert_close(jac, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("key", ["fvsbn", "made-direct", "made-ensemble-direct"])
def test_weight_l1_penalizes_exactly_the_weights_a_mask_keeps(key):
    """loss = NLL + lambda * sum |w| over connections some mask keeps; log_prob never sees the penalty."""
    name, overrides = MODELS[key]
    plain = small_model(key)
    penalized = create_model(name, image_shape=SMALL, weight_l1=0.3, **overrides).to(torch.float64)
    penalized.load_state_dict(plain.state_dict())
    x = all_binary_images()[:64]
    torch.testing.assert_close(penalized.log_prob(x), plain.log_prob(x), rtol=0, atol=0)

    layers = list(penalized.net) + ([penalized.direct] if penalized.direct is not None else [])
    kept = [penalized.masked_weights(k) + ([penalized.masked_direct_weight(k)] if penalized.direct is not None
                                           else []) for k in range(penalized.num_masks)]
    expected = 0.3 * sum(torch.stack([w[i] != 0 for w in kept]).any(0).mul(layer.weight.abs()).sum()
                         for i, layer in enumerate(layers))
    loss, metrics = penalized.train().loss(x)
    torch.testing.assert_close(loss - metrics["nll"], expected, rtol=1e-12, atol=0)
    loss.backward()
    for i, layer in enumerate(layers):  # connections no mask keeps get no gradient at all
        dropped = ~torch.stack([w[i] != 0 for w in kept]).any(0)
        assert dropped.any() and (layer.weight.grad[dropped] == 0).all()
