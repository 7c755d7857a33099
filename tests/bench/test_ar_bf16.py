"""The equal-steps comparison's batches: every step a full batch inside the split, epochs in order."""
import pytest

from bench.ar_bf16 import step_rows


def test_steps_past_one_epoch_wrap_to_full_batches_of_the_next_epoch():
    size, batch_size = 10, 4  # two full batches an epoch, two rows left over
    rows = [step_rows(step, batch_size, size) for step in range(5)]
    assert rows == [(slice(0, 4), 0), (slice(4, 8), 0), (slice(0, 4), 1), (slice(4, 8), 1), (slice(0, 4), 2)]
    for rows_slice, _ in rows:
        assert len(range(size)[rows_slice]) == batch_size


def test_a_batch_larger_than_the_split_is_refused_by_name():
    with pytest.raises(ValueError, match="larger than the training split"):
        step_rows(0, 11, 10)
