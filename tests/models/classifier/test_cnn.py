"""The metrics' classifier: its contract (labelled batches, checked inputs) and the shipped checkpoint's
test accuracy, measured now."""
from __future__ import annotations

import pytest
import torch

from genzoo.registry import create_model, list_pretrained

shipped = pytest.mark.skipif("mnist-classifier" not in list_pretrained(), reason="mnist-classifier not shipped")


def test_features_and_logits_shapes_and_the_loss():
    model = create_model("cnn_classifier", channels=4, features=16)
    x, y = torch.rand(5, 1, 28, 28), torch.tensor([0, 1, 2, 3, 9])
    assert model.features(x).shape == (5, 16) and model.logits(x).shape == (5, 10)
    loss, metrics = model.loss((x, y))
    assert loss.shape == () and 0 <= metrics["error"] <= 1


@pytest.mark.parametrize("batch, message", [
    (torch.rand(5, 1, 28, 28), r"\(images, labels\)"),
    ((torch.rand(5, 1, 28, 28), torch.tensor([0, 1, 2, 3, 10])), "labels"),
    ((torch.rand(5, 1, 28, 28), torch.zeros(5)), "labels"),
    ((torch.rand(5, 1, 28, 28) + 1, torch.zeros(5, dtype=torch.int64)), r"\[0, 1\]"),
    ((torch.rand(5, 28, 28), torch.zeros(5, dtype=torch.int64)), "shape"),
])
def test_bad_batches_get_a_clear_error(batch, message):
    with pytest.raises(ValueError, match=message):
        create_model("cnn_classifier", channels=4, features=16).loss(batch)


@shipped
def test_the_shipped_classifier_reaches_99_2_percent_on_the_test_digits():
    # tests/test_checkpoint.py recomputes the shipped metrics from the weights and the test digits; here the bar
    from genzoo import load_pretrained

    assert load_pretrained("mnist-classifier").pretrained_metadata["metrics"]["test_accuracy"] >= 0.992
