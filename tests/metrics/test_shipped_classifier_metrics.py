"""The sample metrics in the shipped classifier's feature space, on real digits: zero for a set against itself,
growing with pixel noise; the metrics command scores a sample file."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from genzoo.registry import list_pretrained
from tests.conftest import needs_mnist

pytestmark = [needs_mnist, pytest.mark.skipif("mnist-classifier" not in list_pretrained(),
                                                reason="mnist-classifier not shipped")]


def test_frechet_distance_is_zero_for_the_test_digits_themselves_and_grows_with_pixel_noise():
    from genzoo.data import MNISTData
    from genzoo.metrics import classifier_outputs, frechet_distance, load_classifier

    classifier = load_classifier()
    digits = MNISTData().load("test").head(1000)
    real, _ = classifier_outputs(classifier, digits)
    assert abs(frechet_distance(real, real)) < 1e-6 * real.pow(2).sum(1).mean()
    g = torch.Generator().manual_seed(0)
    distances = [frechet_distance(real, classifier_outputs(
        classifier, (digits + sigma * torch.randn(digits.shape, generator=g)).clamp(0, 1))[0])
        for sigma in (0.05, 0.1, 0.2, 0.4)]
    assert distances == sorted(distances) and distances[0] > 0


def test_the_metrics_command_scores_a_sample_file(tmp_path):
    from genzoo.data import MNISTData
    from genzoo.metrics.__main__ import main

    digits = MNISTData().load("train").head(500)
    np.savez(tmp_path / "digits.npz", samples=digits.numpy())
    table = main(["--samples", str(tmp_path / "digits.npz"), "--json", str(tmp_path / "m.json")])
    assert table.count("\n") == 2 and "digits.npz" in table
    metrics = __import__("json").loads((tmp_path / "m.json").read_text())["digits.npz"]
    assert metrics["n"] == 500 and metrics["classes"] == 10 and metrics["precision"] > 0.5
