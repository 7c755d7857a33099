"""ProGAN's minibatch standard deviation: the appended map is each group's mean spread, groups do not interact."""
from __future__ import annotations

import pytest
import torch

from genzoo.models.ign.minibatch_std import MinibatchStd, group_size
from genzoo.registry import create_model


@pytest.mark.parametrize(("batch", "largest", "expected"), [(128, 4, 4), (6, 4, 3), (7, 4, 1), (2, 4, 2), (12, 4, 4)])
def test_the_group_is_the_largest_size_that_divides_the_batch(batch, largest, expected):
    assert group_size(batch, largest) == expected


def test_the_appended_map_is_each_groups_mean_standard_deviation():
    torch.manual_seed(0)
    h = torch.randn(8, 3, 4, 4, dtype=torch.float64)  # two groups of 4
    out = MinibatchStd(4, eps=0.0)(h)  # (8, 4, 4, 4)
    assert out.shape == (8, 4, 4, 4)
    torch.testing.assert_close(out[:, :3], h)
    for members in (range(0, 4), range(4, 8)):
        group = h[list(members)]  # (4, 3, 4, 4)
        mean = sum(group) / 4
        sigma = (sum((member - mean) ** 2 for member in group) / 4).sqrt().mean()  # population std, averaged
        for i in members:
            torch.testing.assert_close(out[i, 3], torch.full((4, 4), float(sigma), dtype=torch.float64))


def test_an_example_moves_only_its_own_groups_spread():
    torch.manual_seed(0)
    h = torch.randn(8, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    out = MinibatchStd(4)(h)
    (grad,) = torch.autograd.grad(out[0, 3].sum(), h)  # the spread seen by example 0
    assert grad[:4].abs().sum(dim=(1, 2, 3)).min() > 0  # every member of its group moves it
    assert grad[4:].abs().max() == 0  # the other group does not


@pytest.mark.parametrize("bad", [1, 0, 2.0, True])
def test_a_group_of_fewer_than_two_examples_is_refused(bad):
    with pytest.raises(ValueError, match="groups of at least 2 examples"):
        MinibatchStd(bad)


def test_the_config_names_its_key_when_the_group_is_one_example():
    with pytest.raises(ValueError, match="critic_minibatch_std: 1"):
        create_model("gan", width=4, critic_minibatch_std=1, metric_samples=0)


def test_the_critic_with_minibatch_std_sees_one_more_channel_before_its_last_convolution():
    plain = create_model("gan", width=4, metric_samples=0)
    spread = create_model("gan", width=4, critic_minibatch_std=4, metric_samples=0)
    assert spread.num_parameters() - plain.num_parameters() == 8 * 4 * 4 * 4  # (8 width) x 1 x 4 x 4 weights
    assert isinstance(spread.critic.features[-2], MinibatchStd)
    assert spread.critic(torch.rand(8, 1, 28, 28)).shape == (8,)
