"""The blocked masked linear layer against the dense ``F.linear(x, weight * mask, bias)``, and MADE's use of it."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genzoo import create_model
from genzoo.models.autoregressive import made as made_module
from genzoo.models.autoregressive.prefix_linear import prefix_blocks, prefix_masked_linear


def prefix_mask(lengths, in_features):
    return (torch.arange(in_features) < torch.as_tensor(lengths)[:, None]).double()  # (out, in)


@pytest.mark.parametrize("lengths", [[0, 1, 1, 3, 4, 6, 6, 7, 9], [9, 0, 4, 2, 9, 7, 1, 3, 5]])  # sorted, unsorted
@pytest.mark.parametrize("bias", [True, False])
def test_values_and_gradients_equal_the_dense_masked_product(lengths, bias):
    g = torch.Generator().manual_seed(0)
    mask = prefix_mask(lengths, 9)
    blocks = prefix_blocks(mask, groups=3, max_share=1.0)
    assert blocks is not None
    weight = torch.randn(9, 9, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(9, generator=g, dtype=torch.float64, requires_grad=True) if bias else None
    x = torch.randn(4, 9, generator=g, dtype=torch.float64, requires_grad=True)
    ours, dense = prefix_masked_linear(x, weight, b, mask, blocks), F.linear(x, weight * mask, b)
    torch.testing.assert_close(ours, dense, rtol=1e-13, atol=1e-13)
    up = torch.randn(4, 9, generator=g, dtype=torch.float64)
    inputs = [t for t in (x, weight, b) if t is not None]
    for a, r in zip(torch.autograd.grad((ours * up).sum(), inputs), torch.autograd.grad((dense * up).sum(), inputs)):
        torch.testing.assert_close(a, r, rtol=1e-13, atol=1e-13)
    assert torch.autograd.gradcheck(lambda *t: prefix_masked_linear(*t[:2], t[2] if bias else None, mask, blocks),
                                    (x, weight, b if bias else None))


def test_blocks_of_a_staircase_skip_its_zero_half():
    mask = prefix_mask(list(range(1, 101)), 100)  # lower triangle with the diagonal
    blocks = prefix_blocks(mask, groups=8)
    assert blocks[0][:2] == (0, 13) and blocks[-1][1] == 100  # contiguous row blocks over every row
    assert sum((r1 - r0) * c1 for r0, r1, _, c1 in blocks) < 0.6 * mask.numel()


def test_masks_that_are_not_prefixes_or_save_nothing_get_none():
    holes = prefix_mask([3, 3, 3], 4)
    holes[1, 0] = 0  # a zero before the last one
    assert prefix_blocks(holes) is None
    assert prefix_blocks(prefix_mask([4, 0, 4, 0], 4), groups=1) is None  # one block reaching every column


def test_one_mask_made_in_raster_order_uses_the_blocks_and_equals_the_dense_form(monkeypatch):
    model = create_model("made", image_shape=(1, 4, 4), hidden=40, layers=2, direct=True).double()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.5)
    assert all(b is not None for b in model._prefix_blocks[0].values())
    assert torch.equal(model.degrees[0], model.degrees[0].sort(dim=-1).values)
    x = (torch.rand(6, 16, dtype=torch.float64) < 0.5).double()
    calls = []
    real = made_module.prefix_masked_linear
    monkeypatch.setattr(made_module, "prefix_masked_linear", lambda *a: calls.append(1) or real(*a))

    def logits_and_gradients():
        model.zero_grad()
        logits = model.conditional_logits(x)
        F.binary_cross_entropy_with_logits(logits, x).backward()
        return [logits.detach()] + [p.grad.clone() for p in model.parameters()]

    blocked = logits_and_gradients()
    assert len(calls) == 4  # 3 layers and the direct path
    with model.dense_form():
        dense = logits_and_gradients()
    assert len(calls) == 4 and not model._dense  # the dense form used no block, and ends with the block
    for a, r in zip(blocked, dense):
        torch.testing.assert_close(a, r, rtol=1e-12, atol=1e-12)


def test_a_one_mask_made_saved_with_unsorted_degrees_loads_relabeled_as_the_same_function():
    model = create_model("made", image_shape=(1, 3, 3), hidden=12, layers=2, direct=True).double()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.5)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(1)
    for l in range(2):  # shuffle the hidden units as an older file (unsorted degrees) stores them
        perm = torch.randperm(12, generator=g)
        state["degrees"][0, l] = state["degrees"][0, l][perm]
        state[f"net.{l}.weight"], state[f"net.{l}.bias"] = state[f"net.{l}.weight"][perm], state[f"net.{l}.bias"][perm]
        state[f"net.{l + 1}.weight"] = state[f"net.{l + 1}.weight"][:, perm]
    assert not torch.equal(state["degrees"], model.degrees)
    loaded = create_model("made", image_shape=(1, 3, 3), hidden=12, layers=2, direct=True).double()
    loaded.load_state_dict(state)
    assert torch.equal(loaded.degrees, model.degrees)
    x = (torch.rand(20, 1, 3, 3, dtype=torch.float64) < 0.5).double()
    torch.testing.assert_close(loaded.log_prob(x), model.log_prob(x), rtol=1e-12, atol=1e-12)
