"""FSQ: index <-> code round trips over every code of every preset, reachability, float32 under autocast."""
from __future__ import annotations

import math

import pytest
import torch

from genzoo.quantizers import FSQ, FSQ_PRESETS


@pytest.mark.parametrize("size", sorted(FSQ_PRESETS))
def test_index_code_round_trip_over_every_code(size):
    fsq = FSQ.from_codebook_size(size)
    assert fsq.codebook_size == math.prod(FSQ_PRESETS[size])
    indices = torch.arange(fsq.codebook_size)
    codes = fsq.indices_to_codes(indices)  # (K, d)
    assert torch.equal(fsq.codes_to_indices(codes), indices)
    assert torch.unique(codes, dim=0).shape[0] == fsq.codebook_size  # distinct codes
    assert codes.min() >= -1 and codes.max() <= 1


@pytest.mark.parametrize("size", sorted(FSQ_PRESETS))
def test_every_code_is_reached_by_some_latent(size):
    """Invert the bound per channel: for each grid value pick z with bound(z) as close as the range allows."""
    fsq = FSQ.from_codebook_size(size)
    codes = fsq.indices_to_codes(torch.arange(fsq.codebook_size)).double()
    L = fsq._levels.double()
    half = (L - 1) * (1 - fsq.eps) / 2
    offset = torch.where(L % 2 == 0, 0.5, 0.0).double()
    target = (codes * fsq._half_width).clamp(-half - offset + 0.25, half - offset - 0.25)  # inside the range
    z = torch.atanh((target + offset) / half) - torch.atanh(offset / half)
    out, indices, _ = fsq(z.float())
    assert torch.equal(indices, torch.arange(fsq.codebook_size))
    torch.testing.assert_close(out, codes.float())


def test_rounding_passes_gradients_straight_through():
    fsq = FSQ([5, 4])
    z = torch.randn(10, 2, requires_grad=True)
    codes, _, _ = fsq(z)
    codes.sum().backward()
    plain = z.detach().requires_grad_(True)
    fsq.bound(plain).sum().backward()  # the bound is elementwise: its gradient is its derivative
    torch.testing.assert_close(z.grad, plain.grad / fsq._half_width)


def test_fsq_is_float32_under_bf16_autocast():
    fsq = FSQ([8, 5, 5, 5])
    z = 3 * torch.randn(4096, 4)
    codes, indices, _ = fsq(z)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        codes_bf16, indices_bf16, _ = fsq(z)
    assert torch.equal(indices, indices_bf16)
    torch.testing.assert_close(codes_bf16.float(), codes)


@pytest.mark.parametrize("bad, error, message", [
    (torch.randn(3, 5), ValueError, r"\(\.\.\., 4\)"),
    (torch.tensor([[0.0, float("nan"), 0.0, 0.0]]), ValueError, "non-finite"),
    (torch.zeros(2, 4, dtype=torch.long), TypeError, "floating-point"),
])
def test_bad_latents_raise_clear_errors(bad, error, message):
    with pytest.raises(error, match=message):
        FSQ([8, 5, 5, 5])(bad)


def test_bad_levels_and_indices():
    with pytest.raises(ValueError, match="levels"):
        FSQ([8, 1])
    with pytest.raises(ValueError, match="preset"):
        FSQ.from_codebook_size(300)
    with pytest.raises(ValueError, match=r"\[0, 1000\)"):
        FSQ([8, 5, 5, 5]).indices_to_codes(torch.tensor([1000]))


@pytest.mark.parametrize("levels, message", [
    ([2.5, 3], r"FSQ.levels=\[2.5, 3\]: expected a list of an integer >= 2"),
    ("855", r"FSQ.levels='855'"),
    ([8, 1], r"FSQ.levels=\[8, 1\]"),
    ([], "non-empty"),
])
def test_levels_that_cannot_work_are_refused(levels, message):
    with pytest.raises(ValueError, match=message):
        FSQ(levels)


def test_a_huge_implicit_codebook_counts_only_the_codes_it_meets():
    """2^32 codes: a dense usage histogram would be 34 GB per forward."""
    fsq = FSQ([2] * 32)
    z = torch.randn(64, 32, generator=torch.Generator().manual_seed(0))
    _, indices, info = fsq(z)
    assert fsq.codebook_size == 2**32
    assert info["usage"].item() == pytest.approx(indices.unique().numel() / 2**32)
    assert info["perplexity"].item() == pytest.approx(indices.unique().numel(), rel=1e-5)  # 64 distinct codes
