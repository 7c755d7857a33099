"""The same-size GAN: one routed loss gives each player exactly its own gradient."""
from __future__ import annotations

import itertools

import pytest
import torch

from genzoo.registry import create_model


@pytest.mark.parametrize("loss", ["hinge", "non_saturating"])
@pytest.mark.parametrize(("lambda_imle", "imle_pool", "matching", "spectral", "minibatch_std"),
                         [(0.0, 1, "nearest", True, 0), (0.0, 1, "nearest", False, 0), (2.0, 1, "nearest", True, 0),
                          (2.0, 4, "nearest", True, 0), (2.0, 4, "one_to_one", True, 0),
                          # groups of 2 over one pass of 3 real + 3 fake would pair a real image with a sample
                          (0.0, 1, "nearest", True, 2)])
def test_one_routed_loss_gives_each_player_its_own_gradient(loss, lambda_imle, imle_pool, matching, spectral,
                                                             minibatch_std):
    torch.manual_seed(0)
    gan = create_model("gan", width=4, loss=loss, lambda_imle=lambda_imle, imle_pool=imle_pool,
                       imle_matching=matching, critic_spectral=spectral, critic_minibatch_std=minibatch_std,
                       metric_samples=0).double()
    with torch.no_grad():  # power iterations, so that spectral norm's scale is near the weights' own
        for _ in range(20):
            gan.critic(torch.rand(4, 1, 28, 28, dtype=torch.float64))
    gan.eval()  # then no power iteration: the two computations below must see the same weights
    # three near-copies of one image: they share a nearest sample, so one-to-one must route them elsewhere
    x = torch.rand(1, 1, 28, 28, dtype=torch.float64) + 0.01 * torch.rand(3, 1, 28, 28, dtype=torch.float64)
    x = x.clamp(0, 1)
    torch.manual_seed(1)
    gan.loss(x)[0].backward()
    routed = {n: p.grad.clone() for n, p in gan.named_parameters()}
    gan.zero_grad(set_to_none=True)

    # the two players' objectives written separately, each differentiated for its own parameters only
    torch.manual_seed(1)
    z = gan.latent(3)
    fake = gan.generator(z)
    pool = gan.latent(3 * imle_pool) if imle_pool > 1 else z  # the loss draws the pool after the batch's codes
    real_scores, fake_scores = gan.critic(x * 2 - 1), gan.critic(fake)
    critic_params = list(gan.critic.parameters())
    generator_params = list(gan.generator.parameters())
    critic_grads = torch.autograd.grad(gan.critic_losses(real_scores, fake_scores), critic_params, retain_graph=True)
    y = x * 2 - 1
    candidates = gan.generator(pool)  # with gradient: the chosen ones' gradient as if generated alone
    d = torch.stack([torch.stack([(candidates[j] - y[i]).abs().mean() for j in range(len(pool))]) for i in range(3)])
    if matching == "nearest":
        nearest = d.min(1).values
    else:  # the injective assignment of least total distance, by enumeration
        columns = min(itertools.permutations(range(len(pool)), 3),
                      key=lambda c: float(d.detach()[[0, 1, 2], list(c)].sum()))
        nearest = d[[0, 1, 2], list(columns)]
    generator_objective = gan.generator_loss(fake_scores) + lambda_imle * nearest.mean()  # the IMLE term: G's only
    generator_grads = torch.autograd.grad(generator_objective, generator_params)
    names = {id(p): n for n, p in gan.named_parameters()}
    for p, g in zip(critic_params + generator_params, critic_grads + generator_grads):
        torch.testing.assert_close(routed[names[id(p)]], g, rtol=1e-10, atol=1e-12)  # one batched critic pass vs two
    assert all(g.abs().max() > 0 for g in generator_grads[-2:])


def test_the_gan_has_igns_size_up_to_the_critic_head():
    ign, gan = create_model("ign", metric_samples=0), create_model("gan", metric_samples=0)
    assert abs(ign.num_parameters() - gan.num_parameters()) < 0.001 * ign.num_parameters()


@pytest.mark.parametrize("spectral", [True, False])
def test_the_critics_layers_are_all_spectrally_normalized_or_none(spectral):
    """critic_spectral: every convolution and the head has largest singular value 1 after power iterations
    (Miyato et al. 2018: the weight reshaped to (out, in * k * k)), or none is constrained (DCGAN's critic)."""
    torch.manual_seed(0)
    gan = create_model("gan", width=4, critic_spectral=spectral, metric_samples=0)
    layers = [m for m in gan.critic.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) == 5
    with torch.no_grad():
        for _ in range(200):  # training-mode calls run the power iteration (one step each)
            gan.critic(torch.rand(2, 1, 28, 28))
        gan.critic.eval()
        norms = [float(torch.linalg.matrix_norm(m.weight.flatten(1), 2)) for m in layers]
    if spectral:
        assert norms == pytest.approx([1.0] * 5, rel=1e-3)
    else:
        assert not any(hasattr(m, "parametrizations") for m in layers)
        assert all(abs(n - 1) > 0.05 for n in norms)  # DCGAN's N(0, 0.02) weights, unconstrained


def test_without_the_frozen_critic_the_generator_loss_leaks_into_the_critic(monkeypatch):
    import genzoo.models.ign.gan as gan_module

    def grads():
        torch.manual_seed(0)
        gan = create_model("gan", width=4, metric_samples=0).double().eval()
        torch.manual_seed(1)
        gan.loss(torch.rand(3, 1, 28, 28, dtype=torch.float64))[0].backward()
        return [p.grad.clone() for p in gan.critic.parameters()]

    routed = grads()
    monkeypatch.setattr(gan_module, "frozen_call", lambda module, *args: module(*args))
    leaked = grads()
    assert max(float((a - b).abs().max()) for a, b in zip(routed, leaked)) > 1e-6


def test_ttur_gives_the_critic_its_own_learning_rate_through_the_schedule():
    """critic_lr_scale: the training loop's optimizer moves the critic by that factor times the generator's step
    (Adam's first step moves each weight by about its lr), and the warm-up/cosine schedule keeps the ratio."""
    from genzoo.training import TrainConfig, make_optimizer, warmup_cosine

    torch.manual_seed(0)
    gan = create_model("gan", width=4, critic_lr_scale=4.0, metric_samples=0)
    optimizer = make_optimizer(gan, TrainConfig(lr=1e-3, weight_decay=0.0))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(2, 10, 0.1))
    before = {n: p.detach().clone() for n, p in gan.named_parameters()}
    gan.loss(torch.rand(3, 1, 28, 28))[0].backward()
    optimizer.step()
    scheduler.step()
    moved = {n: float((p.detach() - before[n]).abs().max()) for n, p in gan.named_parameters()}
    assert max(v for n, v in moved.items() if n.startswith("critic.")) == pytest.approx(4e-3 / 2, rel=0.01)  # warm-up: half the lr
    assert max(v for n, v in moved.items() if n.startswith("generator.")) == pytest.approx(1e-3 / 2, rel=0.01)
    lrs = [group["lr"] for group in optimizer.param_groups]  # generator's pair first, then the critic's
    assert lrs == pytest.approx([1e-3, 1e-3, 4e-3, 4e-3])
    assert create_model("gan", width=4, metric_samples=0).learning_rate_scale("critic.head.bias") == 1.0


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_a_temperature_scales_the_generators_codes(temperature):
    torch.manual_seed(0)
    gan = create_model("gan", width=4, metric_samples=0).eval()
    # the first GroupNorm divides the codes' scale out, but for the first layer's bias (zero at initialization)
    torch.nn.init.normal_(gan.generator[0].bias, 0.0, 0.1)
    z = gan.latent(5, torch.Generator().manual_seed(3))  # (5, 32, 1, 1)
    expected = gan.to_unit(gan.generator(temperature * z))
    drawn = gan.sample(5, torch.Generator().manual_seed(3), temperature=temperature)
    torch.testing.assert_close(drawn, expected, rtol=0, atol=0)
    other = gan.sample(5, torch.Generator().manual_seed(3), temperature=1.5 - temperature)
    assert (drawn - other).abs().max() > 1e-3
    for bad in (0, -1.0, float("nan"), True, "0.5"):
        with pytest.raises(ValueError, match="temperature must be a finite number above 0"):
            gan.sample(2, temperature=bad)
