"""VectorQuantizer: nearest codes, EMA update by hand, dead-code restarts, k-means, precision, two ranks."""
from __future__ import annotations

import pytest
import torch

from genzoo.quantizers import VectorQuantizer
from genzoo.quantizers.vector_quantizer import kmeans, nearest_codes
from tests.launch import ROOT, torchrun


def test_nearest_codes_match_brute_force():
    g = torch.Generator().manual_seed(0)
    z, codebook = torch.randn(500, 8, generator=g), torch.randn(64, 8, generator=g)
    assert torch.equal(nearest_codes(z, codebook), torch.cdist(z, codebook).argmin(1))


def test_forward_returns_codes_indices_and_metrics():
    vq = VectorQuantizer(3, 5, ema_decay=0.0).eval()
    z = torch.randn(2, 4, 3)
    q, indices, info = vq(z)
    assert q.shape == z.shape and indices.shape == (2, 4)
    torch.testing.assert_close(q, vq.codebook[indices].detach())
    assert info["quant_error"] == pytest.approx(((z - q) ** 2).sum(-1).mean().item(), rel=1e-5)
    counts = torch.bincount(indices.flatten(), minlength=5).float()
    p = counts / counts.sum()
    assert info["perplexity"].item() == pytest.approx(torch.exp(-(p[p > 0] * p[p > 0].log()).sum()).item(), rel=1e-5)
    assert info["usage"].item() == pytest.approx((counts > 0).float().mean().item())


def test_ema_update_matches_a_hand_computation():
    torch.manual_seed(0)
    K, d, decay, eps = 4, 2, 0.9, 1e-5
    vq = VectorQuantizer(d, K, ema_decay=decay, ema_eps=eps).train()
    old_codebook, old_n, old_m = vq.codebook.detach().clone(), vq.cluster_size.clone(), vq.embed_sum.clone()
    z = torch.randn(7, d)
    _, indices, _ = vq(z)
    N, m = old_n.clone(), old_m.clone()
    for k in range(K):
        members = [z[i] for i in range(7) if int(torch.cdist(z[i:i + 1], old_codebook).argmin()) == k]
        assert all(int(indices[i]) == int(torch.cdist(z[i:i + 1], old_codebook).argmin()) for i in range(7))
        N[k] = decay * old_n[k] + (1 - decay) * len(members)
        m[k] = decay * old_m[k] + (1 - decay) * (sum(members) if members else torch.zeros(d))
    total = N.sum()
    expected = torch.stack([m[k] / ((N[k] + eps) / (total + K * eps) * total) for k in range(K)])
    torch.testing.assert_close(vq.cluster_size, N)
    torch.testing.assert_close(vq.embed_sum, m)
    torch.testing.assert_close(vq.codebook.detach(), expected)


def test_gradients_reach_the_codebook_only_without_ema():
    z = torch.randn(10, 3)
    ema = VectorQuantizer(3, 4, ema_decay=0.99).train()
    assert not ema.codebook.requires_grad
    learned = VectorQuantizer(3, 4, ema_decay=0.0).train()
    _, _, info = learned(z)
    info["loss"].backward()
    assert learned.codebook.grad is not None and learned.codebook.grad.abs().sum() > 0


def test_dead_code_restart_replaces_exactly_the_dead_codes():
    torch.manual_seed(0)
    vq = VectorQuantizer(2, 6, ema_decay=0.5, dead_code_threshold=0.3).train()
    with torch.no_grad():  # codes 0..2 far away from the data: they will not be chosen
        vq.codebook[:3] = 100 + torch.arange(6.0).view(3, 2)
        vq.cluster_size.copy_(torch.tensor([0.5, 2.0, 0.1, 2.0, 2.0, 2.0]))
        vq.embed_sum.copy_(vq.codebook * vq.cluster_size[:, None])  # consistent: c_k = m_k / N_k
    z = torch.randn(50, 2)
    before = vq.codebook.detach().clone()
    vq(z)
    # after the EMA step, N = 0.5 N_old (+ usage): codes 0 (0.25) and 2 (0.05) are below 0.3, code 1 (1.0) is not
    dead = torch.tensor([True, False, True, False, False, False])
    after = vq.codebook.detach()
    for k in torch.nonzero(dead).flatten():
        assert (torch.isclose(z, after[k]).all(1)).any(), f"code {k} was not moved to a batch vector"
        assert vq.cluster_size[k] == pytest.approx(0.3)
    torch.testing.assert_close(after[1], before[1], rtol=1e-3, atol=0)  # alive, unused: stays (up to smoothing)
    assert not (torch.isclose(z[:, None], after[None, [1, 3, 4, 5]]).all(-1)).any()  # alive ones not replaced


def test_kmeans_finds_separated_clusters():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    x = (centres[:, None] + 0.1 * torch.randn(4, 200, 2, generator=g)).reshape(-1, 2)
    found = kmeans(x, 4, iters=20)
    distance = torch.cdist(centres, found).min(1).values
    assert distance.max() < 0.1


def test_kmeans_init_runs_on_the_first_training_batch_only():
    vq = VectorQuantizer(2, 4, kmeans_init=True).train()
    x = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]]).repeat(25, 1)
    x = x + 0.01 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    vq.eval()(x)
    assert not bool(vq.initialized)
    vq.train()(x)
    assert bool(vq.initialized)
    _, _, info = vq.eval()(x)
    assert info["quant_error"] < 1e-3  # every cluster has its own code


def test_bf16_autocast_gives_the_float32_indices():
    torch.manual_seed(0)
    vq = VectorQuantizer(64, 1024).eval()
    z = torch.randn(4096, 64)
    q, indices, _ = vq(z)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        q16, indices16, _ = vq(z.bfloat16())
    # bf16 inputs are rounded before the quantizer sees them; the search itself is float32 on those inputs
    assert torch.equal(indices16, nearest_codes(z.bfloat16().float(), vq.codebook.detach()))
    assert q16.dtype == torch.bfloat16
    # and on float32 inputs under autocast the indices are exactly the float32 ones
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, indices_autocast, _ = vq(z)
    assert torch.equal(indices_autocast, indices)


@pytest.mark.parametrize("bad, error, message", [
    (torch.randn(3, 5), ValueError, r"\(\.\.\., 4\)"),
    (torch.tensor([[0.0, float("nan"), 0.0, 0.0]]), ValueError, "non-finite"),
    (torch.tensor([[0.0, float("inf"), 0.0, 0.0]]), ValueError, "non-finite"),
    (torch.zeros(2, 4, dtype=torch.long), TypeError, "floating-point"),
])
def test_bad_latents_raise_clear_errors(bad, error, message):
    with pytest.raises(error, match=message):
        VectorQuantizer(4, 8)(bad)


def test_bad_settings_raise_clear_errors():
    with pytest.raises(ValueError, match="estimator"):
        VectorQuantizer(4, 8, estimator="gumbel")
    with pytest.raises(ValueError, match="distance"):
        VectorQuantizer(4, 8, distance="l1")
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        VectorQuantizer(4, 8).lookup(torch.tensor([8]))


def _two_rank_data(steps=4, n=64):
    g = torch.Generator().manual_seed(7)
    return torch.randn(steps, 2, n, 4, generator=g) + torch.tensor([0.0, 3.0])[None, :, None, None]


def test_two_ranks_keep_identical_codebooks_equal_to_one_process_on_all_data(tmp_path):
    data = _two_rank_data()
    torch.save(data, tmp_path / "data.pt")
    torchrun(ROOT / "tests" / "quantizers" / "_two_process_codebook.py", tmp_path / "out.pt", "plain",
             tmp_path / "data.pt")
    states = torch.load(tmp_path / "out.pt", weights_only=True)["states"]  # (ranks, 2, K, d)
    assert torch.equal(states[0], states[1])
    torch.manual_seed(1234)
    single = VectorQuantizer(4, 16, estimator="rotation").train()
    for step in range(data.shape[0]):
        single(data[step].reshape(-1, 4))  # both ranks' batches at once
    torch.testing.assert_close(states[0, 0], single.codebook.detach(), rtol=1e-5, atol=1e-5)


def test_two_ranks_keep_identical_codebooks_with_restarts_and_kmeans(tmp_path):
    data = _two_rank_data(steps=6)
    torch.save(data, tmp_path / "data.pt")
    torchrun(ROOT / "tests" / "quantizers" / "_two_process_codebook.py", tmp_path / "out.pt", "restart",
             tmp_path / "data.pt")
    result = torch.load(tmp_path / "out.pt", weights_only=True)
    assert torch.equal(result["states"][0], result["states"][1])


@pytest.mark.parametrize("kwargs, message", [
    ({"dim": 0}, r"VectorQuantizer.dim=0: expected an integer >= 1"),
    ({"codebook_size": 16.5}, r"codebook_size=16.5"),
    ({"beta": -0.25}, r"beta=-0.25: expected a number >= 0"),
    ({"beta": float("nan")}, r"beta=nan"),
    ({"dead_code_threshold": -1.0}, r"dead_code_threshold=-1.0"),
])
def test_arguments_that_cannot_work_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VectorQuantizer(**{"dim": 4, "codebook_size": 16, **kwargs})
