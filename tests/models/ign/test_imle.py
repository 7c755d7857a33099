"""Implicit maximum likelihood over a pool (genzoo.models.ign.imle): the loss is each image's distance to its
nearest generated candidate, its gradient reaches the generator through the chosen candidates only, and a pool
without its term is refused."""
from __future__ import annotations

import pytest
import torch

from genzoo.models.ign.imle import check_pool, imle_loss, nearest_latents, pooled_imle_loss


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
    chosen = nearest_latents(x, candidates, generate, kind)
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


def test_a_pool_without_its_term_is_refused():
    check_pool(0.0, 1)
    check_pool(2.0, 8)
    with pytest.raises(ValueError, match="imle_pool: 8 needs model.lambda_imle"):
        check_pool(0.0, 8)
