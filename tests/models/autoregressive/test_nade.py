"""NADE's two likelihood passes (per pixel, blocked) and their hand-written backwards against the plain O(DH)
cumsum form."""
from __future__ import annotations

import pytest
import torch

from genzoo import create_model
from genzoo.models.autoregressive.nade import _BlockedLogits, _PerPixelLogits, nade_logits_cumsum

FORMS = [{"form": "per_pixel"}, *({"form": "blocked", "block": k} for k in (1, 3, 4, 10, 64))]  # 64 > D


def cumsum_logits(model, x):
    return nade_logits_cumsum(x, model.W, model.c, model.V, model.b)


def random_nade(dtype=torch.float64, **form):
    model = create_model("nade", image_shape=(1, 2, 5), hidden=4, **form).to(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 1.0)
    return model


@pytest.mark.parametrize("form", FORMS)
def test_logits_equal_the_cumsum_form(form):
    model = random_nade(**form)
    x = (torch.rand(5, 10, dtype=torch.float64) < 0.5).double()
    reference = cumsum_logits(model, x)
    torch.testing.assert_close(model.conditional_logits(x), reference, rtol=1e-12, atol=1e-12)
    with torch.no_grad():  # the pass that keeps no hidden vectors
        torch.testing.assert_close(model.conditional_logits(x), reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("logits", [_PerPixelLogits.apply, *(lambda *t, k=k: _BlockedLogits.apply(*t, k)
                                                            for k in (1, 3, 10))])
def test_hand_written_backward_passes_gradcheck(logits):
    model = random_nade()
    x = torch.rand(3, 10, dtype=torch.float64, requires_grad=True)  # continuous: every input gradient shows
    params = (model.W, model.c, model.V, model.b)
    inputs = (x, *[p.detach().clone().requires_grad_() for p in params])
    assert torch.autograd.gradcheck(logits, inputs)


@pytest.mark.parametrize("form", [{"form": "per_pixel"}, {"form": "blocked", "block": 3}])
def test_gradients_match_the_cumsum_form_on_a_loss(form):
    model = random_nade(**form)
    x = (torch.rand(6, 10, dtype=torch.float64) < 0.5).double()
    grads = []
    for logits_fn in (model.conditional_logits, lambda v: cumsum_logits(model, v)):
        model.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(logits_fn(x), x).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for ours, plain in zip(*grads):
        torch.testing.assert_close(ours, plain, rtol=1e-10, atol=1e-12)


def test_block_must_be_positive():
    with pytest.raises(ValueError, match="block=0: expected an integer >= 1"):
        create_model("nade", image_shape=(1, 2, 5), hidden=4, block=0)


def test_unknown_form_is_refused():
    with pytest.raises(ValueError, match="form"):
        create_model("nade", image_shape=(1, 2, 5), hidden=4, form="cumsum")
