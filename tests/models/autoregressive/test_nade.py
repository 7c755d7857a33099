"""NADE's blocked likelihood pass and its hand-written backward against the plain O(DH) cumsum form."""
from __future__ import annotations

import pytest
import torch

from genzoo import create_model
from genzoo.models.autoregressive.nade import _NADELogits, nade_logits_cumsum


def cumsum_logits(model, x):
    return nade_logits_cumsum(x, model.W, model.c, model.V, model.b)


def random_nade(block, dtype=torch.float64):
    model = create_model("nade", image_shape=(1, 2, 5), hidden=4, block=block).to(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 1.0)
    return model


@pytest.mark.parametrize("block", [1, 3, 4, 10, 64])  # blocks of one pixel, uneven last block, one block, > D
def test_blocked_logits_equal_the_cumsum_form(block):
    model = random_nade(block)
    x = (torch.rand(5, 10, dtype=torch.float64) < 0.5).double()
    torch.testing.assert_close(model.conditional_logits(x), cumsum_logits(model, x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("block", [1, 3, 10])
def test_hand_written_backward_passes_gradcheck(block):
    model = random_nade(block)
    x = torch.rand(3, 10, dtype=torch.float64, requires_grad=True)  # continuous: every input gradient shows
    params = (model.W, model.c, model.V, model.b)
    inputs = (x, *[p.detach().clone().requires_grad_() for p in params])
    assert torch.autograd.gradcheck(lambda *t: _NADELogits.apply(*t, block), inputs)


def test_gradients_match_the_cumsum_form_on_a_loss():
    model = random_nade(block=3)
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
