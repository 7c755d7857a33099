"""The feature network's outputs of a reference set are computed once per content: the same numbers as a fresh
pass, never served for a changed set."""
from __future__ import annotations

import torch

import genzoo.metrics.features as features


def test_reference_outputs_are_computed_once_per_content(monkeypatch):
    calls = []
    fresh = features.classifier_outputs

    def counted(classifier, images, batch_size=1000):
        calls.append(images.shape[0])
        return fresh(classifier, images, batch_size)

    monkeypatch.setattr(features, "classifier_outputs", counted)
    monkeypatch.setattr(features, "_REFERENCE_OUTPUTS", type(features._REFERENCE_OUTPUTS)())
    images = torch.rand(7, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    first = features.reference_outputs("mnist-classifier", images)
    again = features.reference_outputs("mnist-classifier", images.clone())  # equal content: served
    assert calls == [7] and again[0] is first[0]
    expected = fresh(features.load_classifier("mnist-classifier"), images)
    for got, want in zip(first, expected):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    changed = images.clone()
    changed[3, 0, 14, 14] = 1 - changed[3, 0, 14, 14]  # one pixel: another set
    other = features.reference_outputs("mnist-classifier", changed)
    assert calls == [7, 7] and not torch.equal(other[1][3], first[1][3])
    for n in range(1, 5):  # only the latest few sets are kept
        features.reference_outputs("mnist-classifier", images[:n], keep=2)
    assert len(features._REFERENCE_OUTPUTS) == 2
