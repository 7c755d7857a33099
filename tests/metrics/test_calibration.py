"""The calibration sets: counts that follow given class shares exactly, and real digits drawn at a model's class
shares from the right classes."""
from __future__ import annotations

import pytest
import torch

from genzoo.metrics.calibration import class_matched_set, counts_for_shares


def test_counts_follow_the_shares_by_largest_remainders():
    shares = torch.tensor([0.12, 0.162, 0.07, 0.115, 0.103, 0.08, 0.044, 0.122, 0.062, 0.122])
    counts = counts_for_shares(shares, 997)
    assert int(counts.sum()) == 997
    exact = shares / shares.sum() * 997
    assert ((counts - exact).abs() < 1).all()  # each count is the floor or the ceiling of its exact share
    assert counts_for_shares(torch.tensor([1 / 3, 1 / 3, 1 / 3]), 10).tolist() in ([4, 3, 3], [3, 4, 3], [3, 3, 4])
    assert counts_for_shares(torch.tensor([0.0, 1.0, 0.0]), 5).tolist() == [0, 5, 0]


@pytest.mark.parametrize("shares", [torch.tensor([0.5, 0.2]), torch.tensor([1.2, -0.2]), torch.ones(2, 2) / 4])
def test_shares_that_are_not_a_distribution_are_an_error(shares):
    with pytest.raises(ValueError, match="class shares must be"):
        counts_for_shares(shares, 10)


def test_class_matched_set_draws_each_class_as_often_as_its_share():
    labels = torch.arange(300) % 3  # (300,): classes 0, 1, 2 in turn
    images = torch.arange(300.0).view(300, 1, 1, 1)  # each image holds its own index
    drawn = class_matched_set(images, labels, torch.tensor([0.5, 0.0, 0.5]), n=40, seed=1)
    drawn_labels = labels[drawn.flatten().long()]
    assert drawn.shape == (40, 1, 1, 1)
    assert torch.bincount(drawn_labels, minlength=3).tolist() == [20, 0, 20]
    assert torch.equal(drawn, class_matched_set(images, labels, torch.tensor([0.5, 0.0, 0.5]), n=40, seed=1))


def test_a_share_for_a_class_with_no_digits_is_an_error():
    labels, images = torch.zeros(10, dtype=torch.long), torch.zeros(10, 1, 2, 2)
    with pytest.raises(ValueError, match="class 1 has share 0.5000 but no real digit"):
        class_matched_set(images, labels, torch.tensor([0.5, 0.5]), n=4)
