"""Implicit maximum likelihood over a pool (genzoo.models.ign.imle): the loss is each image's distance to its
nearest generated candidate, or to distinct candidates of least total distance (checked against every injective
assignment), its gradient reaches the generator through the chosen candidates only, and a pool or matching
without its term is refused."""
from __future__ import annotations

import itertools

import pytest
import torch

from genzoo.models.ign.imle import check_pool, imle_loss, match, matched_latents, pooled_imle_loss


def linear_generator(latent_dim: int = 6, pixels: int = 10) -> torch.nn.Linear:
    torch.manual_seed(0)
    return torch.nn.Linear(latent_dim, pixels).double()


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_the_pooled_loss_is_each_images_distance_to_its_nearest_candidate(kind):
    generate = linear_generator()
    x = torch.randn(4, 10, dtype=torch.float64)
    candidates = torch.randn(12, 6, dtype=torch.float64)
    loss = pooled_imle_loss(x, candidates, generate, kind).detach()
    samples = generate(candidates).detach()

    def d(a, b):
        return (a - b).abs().mean() if kind == "l1" else (a - b).pow(2).mean()

    explicit = [min(d(samples[k], x[i]) for k in range(12)) for i in range(4)]
    assert float(loss) == pytest.approx(float(sum(explicit) / 4), rel=1e-12)
    chosen = matched_latents(x, candidates, generate, kind)
    for i in range(4):
        k = min(range(12), key=lambda k: float(d(samples[k], x[i])))
        torch.testing.assert_close(chosen[i], candidates[k], rtol=0, atol=0)


def test_the_gradient_flows_through_the_chosen_candidates_only():
    generate = linear_generator()
    x = torch.randn(4, 10, dtype=torch.float64)
    candidates = torch.randn(12, 6, dtype=torch.float64)
    pooled_imle_loss(x, candidates, generate, "l1").backward()
    pooled = [p.grad.clone() for p in generate.parameters()]
    generate.zero_grad()
    # the same objective written out: the chosen latents generated with gradient, nothing else
    with torch.no_grad():
        nearest = torch.stack([(generate(candidates) - x[i]).abs().mean(1).argmin() for i in range(4)])
    (generate(candidates[nearest]) - x).abs().mean(1).mean().backward()
    for got, expected in zip(pooled, (p.grad for p in generate.parameters())):
        assert expected.abs().max() > 0
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)


def test_a_pool_of_the_batchs_own_samples_is_the_batch_loss():
    # with the candidates the batch's own latents, the pooled loss is the batch loss in value
    generate = linear_generator()
    x, z = torch.randn(5, 10, dtype=torch.float64), torch.randn(5, 6, dtype=torch.float64)
    with torch.no_grad():
        assert float(pooled_imle_loss(x, z, generate, "l1")) == pytest.approx(float(imle_loss(x, generate(z), "l1")))


def test_a_larger_pool_brings_each_image_nearer():
    generate = linear_generator()
    x = torch.randn(64, 10, dtype=torch.float64)
    pool = torch.randn(64 * 16, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        losses = [float(pooled_imle_loss(x, pool[: 64 * k], generate, "l2")) for k in (1, 4, 16)]
    assert losses[0] > losses[1] > losses[2]


@pytest.mark.parametrize("pool", [4, 6])
def test_one_to_one_is_the_assignment_of_least_total_distance(pool):
    distances = torch.rand(4, pool, generator=torch.Generator().manual_seed(pool), dtype=torch.float64)
    distances[:, 1] -= 0.9  # every image's nearest is sample 1: the assignment must differ from the nearest
    chosen = match(distances, "one_to_one")
    assert len(set(chosen.tolist())) == 4  # distinct samples
    best = min(sum(float(distances[i, j]) for i, j in enumerate(columns))
               for columns in itertools.permutations(range(pool), 4))
    assert float(distances[torch.arange(4), chosen].sum()) == pytest.approx(best, rel=1e-12)


def test_one_to_one_spreads_images_that_share_a_nearest_sample():
    # images 0 and 1 both nearest to sample 0; one-to-one sends one of them to sample 1, nearest keeps both on 0
    x = torch.tensor([[0.0], [0.1], [5.0]], dtype=torch.float64)
    samples = torch.tensor([[0.05], [1.0], [5.0]], dtype=torch.float64, requires_grad=True)
    assert match(torch.cdist(x, samples.detach(), p=1), "nearest").tolist() == [0, 0, 2]
    assert match(torch.cdist(x, samples.detach(), p=1), "one_to_one").tolist() == [0, 1, 2]
    imle_loss(x, samples, "l1", "one_to_one").backward()
    torch.testing.assert_close(samples.grad, torch.tensor([[1.0], [1.0], [0.0]], dtype=torch.float64) / 3)


def test_the_pooled_one_to_one_loss_is_the_least_injective_total():
    generate = linear_generator()
    candidates = torch.randn(6, 6, dtype=torch.float64)
    with torch.no_grad():  # three images near candidate 2's sample: all three share it as their nearest
        x = generate(candidates[2]) + 0.01 * torch.randn(3, 10, dtype=torch.float64)
        loss = float(pooled_imle_loss(x, candidates, generate, "l1", "one_to_one"))
        d = (generate(candidates)[None] - x[:, None]).abs().mean(2)  # (3, 6)
    best = min(sum(float(d[i, j]) for i, j in enumerate(columns)) for columns in itertools.permutations(range(6), 3))
    assert loss == pytest.approx(best / 3, rel=1e-12)


def test_a_pool_or_matching_without_its_term_is_refused():
    check_pool(0.0, 1)
    check_pool(2.0, 8, "one_to_one")
    with pytest.raises(ValueError, match="imle_pool: 8 needs model.lambda_imle"):
        check_pool(0.0, 8)
    with pytest.raises(ValueError, match="imle_matching: one_to_one needs model.lambda_imle"):
        check_pool(0.0, 1, "one_to_one")
