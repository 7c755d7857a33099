"""DeepNADE's own maths: the incremental walk, the order-agnostic training estimate and its random masks.

(The shared checks of every autoregressive model, masks by gradients, normalization, samplers, bad inputs,
run on DeepNADE in test_autoregressive.py.)
"""
from __future__ import annotations

import itertools
import math

import pytest
import torch
from scipy import stats

from genzoo import create_model
from genzoo.models.autoregressive.deepnade import random_orderings

TINY = (1, 2, 2)  # D = 4: all 24 orderings and all 16 observed sets can be enumerated


def tiny_model(num_orderings: int = 1, layers: int = 2) -> torch.nn.Module:
    model = create_model("deepnade", image_shape=TINY, hidden=6, layers=layers, num_orderings=num_orderings)
    model = model.double()
    with torch.no_grad():  # weights far from the initial scale, so the conditionals differ a lot
        for p in model.parameters():
            p.normal_(0, 1.0)
    return model.eval()


def test_walk_equals_one_full_pass_per_pixel():
    """The walk updates the first layer by two columns per pixel; it must give the logits of the full network
    run on [x * m, m] with m the pixels before each one in the ordering."""
    model = tiny_model(num_orderings=3, layers=3)
    x = torch.randint(0, 2, (5, 4)).double()
    for k in range(3):
        walked = model.conditional_logits(x, k)
        observed = torch.zeros_like(x)
        for d in model.ordering(k).tolist():
            torch.testing.assert_close(walked[:, d], model.observed_logits(x, observed)[:, d], rtol=0, atol=1e-12)
            observed[:, d] = 1


def test_order_agnostic_estimate_is_unbiased_for_the_mean_over_all_orderings():
    """E over (k, observed set) of D/(D-k) sum_unobserved -log p(x_j | x_obs), enumerated exactly, equals the
    mean over all D! orderings of -log p(x | o) (Uria et al. 2014's training objective)."""
    D = 4
    model = tiny_model(num_orderings=math.factorial(D))
    model.orderings.copy_(torch.tensor(list(itertools.permutations(range(D)))))
    x = torch.tensor([[0, 1, 1, 0], [1, 1, 0, 1]], dtype=torch.float64)
    mean_over_orderings = torch.stack([-model._mask_log_prob(x, k) for k in range(model.num_masks)]).mean(0)
    expectation = torch.zeros(2, dtype=torch.float64)
    for k in range(D):
        subsets = list(itertools.combinations(range(D), k))
        for subset in subsets:
            observed = torch.zeros(2, D, dtype=torch.float64)
            observed[:, list(subset)] = 1
            expectation += model.order_agnostic_nll(x, observed) / (D * len(subsets))
    torch.testing.assert_close(expectation, mean_over_orderings, rtol=1e-12, atol=0)
    # and it is not the K-ordering mixture's NLL, which is lower (log-sum-exp >= mean): the two are told apart
    assert torch.all(-model.log_prob(x.view(2, *TINY)) < mean_over_orderings)


def test_random_observed_sets_have_the_estimators_distribution():
    """P(observed set S) = 1/D * 1/C(D, |S|) for |S| < D, never all D: chi-square over the 15 possible sets."""
    D, n = 4, 60000
    model = tiny_model()
    observed = model.random_observed(n, generator=torch.Generator().manual_seed(0))
    assert set(observed.unique().tolist()) <= {0.0, 1.0}
    codes = (observed.long() * (2 ** torch.arange(D))).sum(1)
    counts = torch.bincount(codes, minlength=2 ** D).double()
    sizes = torch.tensor([bin(c).count("1") for c in range(2 ** D)])
    assert counts[sizes == D].sum() == 0, "all pixels observed: nothing left to predict"
    expected = torch.tensor([n / (D * math.comb(D, int(s))) for s in sizes[sizes < D]])
    result = stats.chisquare(counts[sizes < D].numpy(), expected.numpy())
    assert result.pvalue > 1e-3, result


def test_smaller_ensembles_use_the_first_orderings_of_larger_ones():
    big, small = random_orderings(10, 6, seed=3), random_orderings(10, 2, seed=3)
    assert torch.equal(big[:2], small)
    assert all(torch.equal(o.sort().values, torch.arange(10)) for o in big)
    assert not torch.equal(big[0], big[1])


def test_with_orderings_keeps_the_weights_and_extends_the_mixture():
    model = tiny_model(num_orderings=2)
    larger = model.with_orderings(5)
    assert larger.config.num_orderings == 5 and torch.equal(larger.orderings[:2], model.orderings)
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(model.named_parameters(), larger.named_parameters()))
    x = torch.randint(0, 2, (6, *TINY)).double()
    per_ordering = torch.stack([larger.component_log_prob(x, k) for k in range(5)])  # (5, 6)
    torch.testing.assert_close(model.log_prob(x), torch.logsumexp(per_ordering[:2], 0) - math.log(2))
    torch.testing.assert_close(larger.log_prob(x), torch.logsumexp(per_ordering, 0) - math.log(5))
    with pytest.raises(ValueError, match=r"mask must be in \[0, 2\), got 2"):
        model.component_log_prob(x, 2)


@pytest.mark.parametrize("bad, message", [(0.5, "binary"), (float("nan"), "NaN")])
def test_loss_rejects_non_binary_pixels(bad, message):
    model = tiny_model()
    batch = torch.zeros(3, *TINY, dtype=torch.float64)
    batch[1, 0, 1, 0] = bad
    with pytest.raises(ValueError, match=message):
        model.loss(batch)


def test_loss_trains_toward_the_data():
    """A few Adam steps on one repeated image raise its log-likelihood under every ordering."""
    torch.manual_seed(0)
    model = create_model("deepnade", image_shape=TINY, hidden=8, num_orderings=2)
    x = torch.tensor([[1.0, 0, 0, 1]]).expand(16, -1).reshape(16, *TINY)
    before = model.log_prob(x[:1]).item()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        loss, info = model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert model.log_prob(x[:1]).item() > max(before, -0.1)
