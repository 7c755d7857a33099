"""IGN: the three forms of its objective give the same gradients, the frozen application is frozen, the
tightness term is bounded, FFT noise has the fitted spectrum, and the public boundaries refuse bad input."""
from __future__ import annotations

import copy

import pytest
import torch

from genzoo.models.ign.ign import FORMS
from genzoo.models.ign.noise import FourierNoise
from genzoo.registry import create_model


def small_ign(**overrides):
    torch.manual_seed(0)
    settings = {"width": 4, "metric_samples": 0, **overrides}
    return create_model("ign", **settings).double()


def gradients(model, x: torch.Tensor, seed: int = 1) -> tuple[float, dict[str, torch.Tensor], dict]:
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)  # the same noise z for every form
    loss, metrics = model.loss(x)
    loss.backward()
    return float(loss.detach()), {n: p.grad.clone() for n, p in model.named_parameters()}, metrics


def images(n: int = 3) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(5), dtype=torch.float64)


@pytest.mark.parametrize("smooth", [True, False])
@pytest.mark.parametrize("distance", ["l1", "l2"])
@pytest.mark.parametrize("lambda_tight", [2.5, 0.0])
@pytest.mark.parametrize("lambda_imle", [0.0, 20.0])
def test_the_three_forms_give_the_same_parameter_gradients(smooth, distance, lambda_tight, lambda_imle):
    x = images()
    results = {}
    for form in FORMS:
        model = small_ign(form=form, smooth_tight=smooth, distance=distance, lambda_tight=lambda_tight,
                          lambda_imle=lambda_imle)
        results[form] = gradients(model, x)
    _, reference, ref_metrics = results["paper"]
    assert any(g.abs().max() > 1e-6 for g in reference.values())
    for form in ("single_loss", "single_pass"):
        _, grads, metrics = results[form]
        for name, g in grads.items():
            torch.testing.assert_close(g, reference[name], rtol=0, atol=1e-10, msg=f"{form}: {name}")
        for key in ("rec", "idem", "tight"):
            torch.testing.assert_close(metrics[key], ref_metrics[key], rtol=0, atol=1e-12)
    # the one-pass form also reports the paper's objective as its loss value
    assert results["single_pass"][0] == pytest.approx(results["paper"][0], abs=1e-10)


def test_the_forms_differ_from_a_wrong_routing():
    # the test above can fail: dropping the stop-gradient of the tightness term's input changes the gradients
    x = images()
    model = small_ign(form="paper")
    _, reference, _ = gradients(model, x)
    wrong = small_ign(form="paper")
    original = wrong._paper

    def leaky(x, z, l_t):
        c = wrong.config
        fz = wrong.f(z)
        rec = wrong.distance(wrong.f(x), x).mean()
        idem = wrong.distance(wrong.f(fz), fz).mean()  # outer application not frozen
        tight = -wrong.distance(wrong.f(fz.detach()), fz.detach()).mean()
        return c.lambda_rec * rec + c.lambda_idem * idem + l_t * wrong.smooth(tight, rec), {"rec": rec}, fz

    wrong._paper = leaky
    _, leaked, _ = gradients(wrong, x)
    wrong._paper = original
    assert max((leaked[n] - reference[n]).abs().max() for n in reference) > 1e-6


def test_paper_form_equals_a_loss_built_with_an_explicit_frozen_copy():
    x = images()
    model = small_ign(form="paper")
    _, grads, _ = gradients(model, x)
    copy_net = copy.deepcopy(model.net).requires_grad_(False)  # what the paper's code keeps in sync
    model.zero_grad(set_to_none=True)
    torch.manual_seed(1)
    c = model.config
    x2 = x * 2 - 1
    z = torch.randn(x.shape[0], 1, 28, 28).double()  # as model.noise draws it
    fz = model.f(z)
    rec = model.distance(model.f(x2), x2).mean()
    idem = model.distance(copy_net(fz), fz).mean()
    tight = -model.distance(model.f(fz.detach()), fz.detach()).mean()
    (c.lambda_rec * rec + c.lambda_idem * idem + c.lambda_tight * model.smooth(tight, rec)).backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(grads[name], p.grad, rtol=0, atol=1e-10)


def test_the_frozen_application_takes_no_gradient_and_moves_no_buffer():
    from genzoo.models.ign.frozen import frozen_call

    gan = create_model("gan", width=4, metric_samples=0).double().train()  # spectral norm: buffers u, v
    critic = gan.critic
    before = {n: b.clone() for n, b in critic.named_buffers()}
    params = {n: p.clone() for n, p in critic.named_parameters()}
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64, requires_grad=True)
    frozen_call(critic, x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in critic.parameters())
    assert all(torch.equal(b, before[n]) for n, b in critic.named_buffers())
    assert all(torch.equal(p, params[n]) for n, p in critic.named_parameters())
    critic(x)  # a plain training-mode call does move the power-iteration vectors: the check above can fail
    assert any(not torch.equal(b, before[n]) for n, b in critic.named_buffers())


def test_the_smoothed_tightness_term_lies_in_minus_a_rec_to_zero():
    model = small_ign(tight_clamp_ratio=1.5)
    rec = torch.tensor(0.4, dtype=torch.float64)
    tight = -torch.tensor([0.0, 1e-4, 0.3, 1.0, 100.0, 1e8], dtype=torch.float64)
    smoothed = model.smooth(tight, rec)
    assert smoothed[0] == 0 and (smoothed <= 0).all() and (smoothed >= -1.5 * 0.4 - 1e-12).all()
    assert (smoothed[1:4] > -1.5 * 0.4).all() and (smoothed.diff() <= 0).all()  # tanh reaches -1 in floats
    torch.testing.assert_close(smoothed[1], tight[1], rtol=1e-3, atol=0)  # ~ identity near 0
    assert smoothed.min() >= -0.6 - 1e-12 and small_ign(smooth_tight=False).smooth(tight, rec).min() == -1e8


def test_fft_noise_reproduces_the_fitted_spectrum():
    g = torch.Generator().manual_seed(0)
    # training images with a spectrum far from white: smooth blobs plus a mean image
    base = torch.randn(4000, 1, 7, 7, generator=g)
    train = torch.nn.functional.interpolate(base, size=(28, 28), mode="bilinear") + torch.linspace(-1, 1, 28)
    noise = FourierNoise((1, 28, 28))
    noise.fit(train)
    n = 20000
    spec = torch.fft.rfft2(noise(torch.randn(n, 1, 28, 28, generator=g)).double())
    for part, mean, std in ((spec.real, noise.mean_re, noise.std_re), (spec.imag, noise.mean_im, noise.std_im)):
        se = std.double() / n**0.5
        assert ((part.mean(0) - mean).abs() <= 5 * se + 1e-6).all()
        varying = std > 1e-3
        ratio = part.std(0)[varying] / std[varying]
        assert (ratio - 1).abs().max() < 0.08
    data_std = torch.fft.rfft2(train.double()).real.std(0)
    assert (noise.std_re - data_std).abs().max() < 1e-3 * data_std.max()


def test_unfitted_fft_noise_is_the_white_noise_itself():
    white = torch.randn(5, 1, 28, 28)
    torch.testing.assert_close(FourierNoise((1, 28, 28))(white), white, rtol=0, atol=1e-5)


def test_sample_steps_apply_f_again_and_project_applies_f():
    model = small_ign().float().eval()
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    once = model.sample(4, generator=g())
    both = model.sample(4, generator=g(), steps=2, all_steps=True)
    assert once.shape == (4, 1, 28, 28) and both.shape == (4, 2, 1, 28, 28)
    torch.testing.assert_close(both[:, 0], once)
    torch.testing.assert_close(both[:, 1], model.project(once), rtol=0, atol=1e-5)
    torch.testing.assert_close(model.sample(4, generator=g(), steps=2), both[:, 1])
    assert 0 <= once.min() and once.max() <= 1


@pytest.mark.parametrize("bad, message", [
    (torch.rand(2, 1, 27, 28), "shape"),
    (torch.rand(2, 28, 28), "shape"),
    (torch.rand(2, 1, 28, 28) * 2, r"\[0, 1\]"),
    (torch.full((2, 1, 28, 28), float("nan")), "NaN"),
    (torch.zeros(0, 1, 28, 28), "empty"),
])
@pytest.mark.parametrize("architecture", ["ign", "gan"])
def test_bad_images_get_a_clear_error(bad, message, architecture):
    model = create_model(architecture, width=4, metric_samples=0)
    with pytest.raises(ValueError, match=message):
        model.loss(bad)
    if architecture == "ign" and bad.shape[0]:
        with pytest.raises(ValueError, match=message):
            model.project(bad)


def test_bad_sample_counts_and_steps_are_refused():
    model = small_ign()
    for n in (0, -1, 2.5):
        with pytest.raises(ValueError, match="integer >= 1"):
            model.sample(n)
    with pytest.raises(ValueError, match="steps"):
        model.sample(2, steps=0)


def test_dropout_is_random_in_training_off_in_eval_and_keeps_the_weights_names():
    plain, dropped = small_ign(), small_ign(dropout=0.3)
    assert plain.state_dict().keys() == dropped.state_dict().keys()  # a warm start may add it
    dropped.load_state_dict(plain.state_dict())
    y = images() * 2 - 1
    dropped.train()
    assert not torch.equal(dropped.f(y), dropped.f(y))  # a fresh mask per application
    plain.eval(), dropped.eval()
    assert torch.equal(dropped.f(y), plain.f(y))  # off in eval: the same function as without it
    dropped.train()
    rates = [float((m(torch.ones(4, 4000, 1, 1)) == 0).float().mean())
             for m in dropped.modules() if isinstance(m, torch.nn.Dropout2d)]
    assert len(rates) == 6 and all(abs(r - 0.3) < 0.03 for r in rates)  # every hidden layer, whole channels


@pytest.mark.parametrize("distance", ["l1", "l2"])
@pytest.mark.parametrize("pool", [1, 3])
def test_imle_adds_each_images_distance_to_its_nearest_sample(distance, pool):
    x = images(5)
    with_imle = small_ign(distance=distance, lambda_imle=3.0, imle_pool=pool)
    without = small_ign(distance=distance)
    loss, _, metrics = gradients(with_imle, x)
    base, _, base_metrics = gradients(without, x)
    torch.manual_seed(1)  # the noise the loss drew: the batch's, then the pool's
    z = with_imle.noise(5)
    fz = with_imle.f(with_imle.noise(5 * pool) if pool > 1 else z).detach()
    y = x * 2 - 1
    explicit = sum(min(float((fz[j] - y[i]).abs().mean() if distance == "l1" else (fz[j] - y[i]).pow(2).mean())
                       for j in range(5 * pool)) for i in range(5)) / 5
    assert float(metrics["imle"]) == pytest.approx(explicit, rel=1e-12)
    assert loss == pytest.approx(base + 3.0 * explicit, rel=1e-12)
    assert "imle" not in base_metrics


def explicitly_matched(model, x: torch.Tensor, pool: int, seed: int = 1) -> torch.Tensor:
    """The samples the loss's L_imle matched to x (on [-1, 1]), found by an explicit nearest search, with gradient."""
    torch.manual_seed(seed)  # the noise the loss drew: the batch's, then the pool's
    z = model.noise(len(x))
    candidates = model.noise(len(x) * pool) if pool > 1 else z
    fz = model.f(candidates)
    y = x * 2 - 1
    nearest = [min(range(len(fz)), key=lambda j: float((fz[j] - y[i]).abs().mean().detach())) for i in range(len(x))]
    return fz[nearest]


@pytest.mark.parametrize("pool", [1, 3])
def test_imle_twice_pulls_each_matched_samples_second_application_to_its_image(pool):
    x = images(5)
    twice = small_ign(lambda_imle=3.0, imle_pool=pool, lambda_imle_twice=2.0)
    once = small_ign(lambda_imle=3.0, imle_pool=pool)
    loss, grads, metrics = gradients(twice, x)
    base, base_grads, base_metrics = gradients(once, x)
    assert float(metrics["imle"]) == float(base_metrics["imle"]) and "imle_twice" not in base_metrics
    y = x * 2 - 1
    once.zero_grad(set_to_none=True)
    chosen = explicitly_matched(once, x, pool)  # (5, 1, 28, 28): the same weights as twice's
    term = (once.f(chosen) - y).abs().flatten(1).mean(1).mean()  # f(f(z_m(i))) against x_i, L1
    assert float(metrics["imle_twice"]) == pytest.approx(float(term.detach()), rel=1e-12)
    assert loss == pytest.approx(base + 2.0 * float(term.detach()), rel=1e-12)
    (2.0 * term).backward()  # its gradient flows through both applications of f
    through_both = {n: p.grad for n, p in once.named_parameters()}
    for name, grad in grads.items():
        torch.testing.assert_close(grad - base_grads[name], through_both[name], rtol=1e-9, atol=1e-12)
    once.zero_grad(set_to_none=True)
    chosen = explicitly_matched(once, x, pool)
    (2.0 * (once.f(chosen.detach()) - y).abs().flatten(1).mean(1).mean()).backward()  # the outer one only
    assert any(not torch.allclose(p.grad, through_both[n]) for n, p in once.named_parameters())


def test_imle_twice_needs_the_imle_term():
    with pytest.raises(ValueError, match="lambda_imle_twice: 2.0 needs model.lambda_imle > 0"):
        small_ign(lambda_imle_twice=2.0)


def test_imle_pulls_only_the_chosen_samples_towards_their_images():
    model = small_ign()
    y = images(4) * 2 - 1
    fz = torch.full_like(y, 5.0)  # samples 0 and 2 far from every image ...
    fz[1] = y[0] + 0.01  # ... sample 1 nearest to image 0,
    fz[3] = 0.0  # sample 3 to images 1..3 (uniform on [-1, 1]: mean |y| 0.5 against 0.67 between two of them)
    fz.requires_grad_(True)
    model.imle(y, fz)["imle"].backward()
    moved = fz.grad.flatten(1).abs().sum(1)  # (4,)
    assert moved[0] == 0 and moved[2] == 0 and moved[1] > 0 and moved[3] > 0
    # sample 3 is pulled towards the mean of its three images' directions, with three times one image's weight
    torch.testing.assert_close(fz.grad[3], sum(torch.sign(fz[3].detach() - y[i]) for i in (1, 2, 3)) / (4 * 784))


def test_a_warm_start_may_change_the_loss_weights_but_not_the_noise_or_distance(tmp_path):
    from genzoo.checkpoint import save_pretrained
    from genzoo.training import warm_start

    source = small_ign().float()
    path = save_pretrained(source, tmp_path / "ign.safetensors")
    reweighted = create_model("ign", width=4, metric_samples=0, lambda_tight=0.0, lambda_idem=40.0,
                              tight_clamp_ratio=0.5, smooth_tight=False, lambda_rec=10.0)
    warm_start(reweighted, str(path))  # the loss's weights are training_only: the new ones train on from its f
    source.eval(), reweighted.eval()
    z = source.noise(3, torch.Generator().manual_seed(0))
    assert torch.equal(reweighted.f(z), source.f(z))
    with pytest.raises(ValueError, match="model.noise='gaussian' there, 'fourier' here"):
        warm_start(create_model("ign", width=4, metric_samples=0, noise="fourier"), str(path))
    with pytest.raises(ValueError, match="model.distance='l1' there, 'l2' here"):
        warm_start(create_model("ign", width=4, metric_samples=0, distance="l2"), str(path))
