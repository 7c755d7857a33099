"""The sample metrics against their definitions on synthetic features: the Frechet distance against the closed
form with scipy's matrix square root, precision/recall against brute force, KID and the Inception Score at
their known values."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from genzoo.metrics.sample_metrics import (class_shares, frechet_distance, inception_score, kernel_distance,
                                           precision_recall, score_features)


def gaussian(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=torch.Generator().manual_seed(99)) / d**0.5
    return (torch.randn(n, d, generator=g) @ mix * scale + shift).double()


def test_frechet_distance_matches_the_closed_form():
    a, b = gaussian(2000, 8, 0), gaussian(1500, 8, 1, shift=0.3, scale=1.5)
    mu_a, mu_b = a.mean(0).numpy(), b.mean(0).numpy()
    s_a, s_b = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    expected = ((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * scipy.linalg.sqrtm(s_a @ s_b).real)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_of_a_set_with_itself_is_zero_and_grows_with_the_shift():
    a = gaussian(1000, 8, 0)
    assert abs(frechet_distance(a, a)) < 1e-8
    distances = [frechet_distance(a, a + shift) for shift in (0.1, 0.2, 0.4)]
    assert distances == sorted(distances) and distances[0] > 0
    assert distances[2] == pytest.approx(8 * 0.4**2, rel=1e-6)  # a pure shift: ||mu_a - mu_b||^2


def brute_precision_recall(real, fake, k):
    def radii(x):
        return [sorted(float((x[i] - x[j]).norm()) for j in range(len(x)) if j != i)[k - 1] for i in range(len(x))]

    def share(points, centres, r):
        return np.mean([any(float((p - c).norm()) <= rc for c, rc in zip(centres, r)) for p in points])

    return share(fake, real, radii(real)), share(real, fake, radii(fake))


def test_precision_recall_match_brute_force():
    real, fake = gaussian(60, 3, 0), gaussian(50, 3, 1, shift=0.8, scale=0.5)
    assert precision_recall(real, fake, k=3) == pytest.approx(brute_precision_recall(real, fake, 3))
    assert precision_recall(real, real, k=3) == (1.0, 1.0)
    collapsed = real[:1].repeat(50, 1) + 1e-3 * gaussian(50, 3, 2)  # every sample near one real example
    precision, recall = precision_recall(real, collapsed, k=3)
    assert precision == 1.0 and recall < 0.2


def test_kernel_distance_is_about_zero_for_one_distribution_and_positive_for_two():
    a, b, c = gaussian(1500, 8, 0), gaussian(1500, 8, 1), gaussian(1500, 8, 2, shift=0.5)
    same, same_std = kernel_distance(a, b, subsets=20, subset_size=500)
    other, _ = kernel_distance(a, c, subsets=20, subset_size=500)
    assert abs(same) < 3 * same_std + 1e-4 and other > 10 * abs(same) and other > 0


def test_inception_score_of_confident_uniform_and_collapsed_predictions():
    labels = torch.arange(1000) % 10
    confident = torch.nn.functional.one_hot(labels, 10).double() * 50
    assert inception_score(confident, splits=1)[0] == pytest.approx(10, rel=1e-6)  # one split: exact marginal
    assert 9 < inception_score(confident)[0] < 10  # ten random splits of 100: marginals off uniform
    assert inception_score(torch.zeros(1000, 10).index_fill_(1, torch.tensor([3]), 50.0))[0] == pytest.approx(1)


def test_class_shares_and_the_classes_present():
    logits = torch.nn.functional.one_hot(torch.tensor([0] * 50 + [1] * 49 + [2]), 10).double()
    torch.testing.assert_close(class_shares(logits)[:3], torch.tensor([0.5, 0.49, 0.01], dtype=torch.float64))
    h = gaussian(100, 4, 0)
    metrics = score_features((h, logits), (h, logits))
    assert metrics["classes"] == 3 and metrics["max_class_share"] == 0.5 and metrics["min_class_share"] == 0.0


def test_sample_quality_draws_on_one_thread_and_gives_the_thread_count_back(monkeypatch):
    """A discrete sampler's draws hang on float rounding, which hangs on the thread split: the scored samples
    are drawn on one thread, so recorded metrics repeat on any core count."""
    from accelerate import Accelerator

    import genzoo.sample
    from genzoo.metrics.quality import SampleQuality

    seen = []

    def sample_many(model, n, accelerator, seed, **kwargs):
        seen.append(torch.get_num_threads())
        if n == 13:
            raise RuntimeError("a failed draw")
        return torch.zeros(n, 1, 2, 2)

    monkeypatch.setattr(genzoo.sample, "sample_many", sample_many)
    monkeypatch.setattr(SampleQuality, "_scores", lambda self, draws, split, steps: {"n": len(draws)})
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert SampleQuality("mnist-classifier", 5).score(None, None, Accelerator(cpu=True)) == {"n": 5}
        assert seen == [1] and torch.get_num_threads() == 2
        with pytest.raises(RuntimeError, match="a failed draw"):
            SampleQuality("mnist-classifier", 13).score(None, None, Accelerator(cpu=True))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
