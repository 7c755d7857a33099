"""Split-level metrics of any model: per-example ``evaluation_metrics`` averaged over a split, sharded over
Accelerate processes and gathered exactly (the padding of an uneven last shard is dropped), plus whatever
the model measures on the split as a whole (``split_metrics``); and the short forms a shipped file records
beside them (the first ``TEST_HEAD`` examples, ``TEST_SAMPLES`` samples), which ``genzoo.evaluate`` re-checks."""
from __future__ import annotations

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader, TensorDataset

from genzoo.progress import progress

TEST_HEAD = 1000  # exports also record their metrics on this many first test examples: a check in seconds
TEST_SAMPLES = 1000  # ... and the metrics of this many samples (models scored by their samples): a check in seconds


@torch.no_grad()
def evaluate(model, split, accelerator: Accelerator, batch_size: int = 500,
             first: int | None = None, per_example_only: bool = False) -> dict[str, float]:
    """Means over ``split`` of the model's per-example metrics, turned into numbers by ``summarize_metrics``,
    plus the model's whole-split metrics (``split_metrics``, e.g. sample scores) unless ``per_example_only``.

    ``first = n``: over the split's first n examples only, per-example metrics only: the quick check a shipped
    checkpoint's tests reproduce.
    """
    stored = split.tensors() if first is None else tuple(t[:first] for t in split.tensors())
    loader = accelerator.prepare(DataLoader(TensorDataset(*stored), batch_size=batch_size))
    was_training = model.training
    model.eval()
    sums, count = {}, 0
    for stored in progress(loader, "batches" if first is None else f"first {first} examples"):
        metrics = model.evaluation_metrics(split.to_batch(*stored))
        metrics = accelerator.gather_for_metrics(metrics)
        for key, value in metrics.items():
            sums[key] = sums.get(key, 0.0) + value.double().sum(0).cpu()  # scalar, or (K,) for vector metrics
        count += next(iter(metrics.values())).shape[0]
    metrics = model.summarize_metrics({key: total / count for key, total in sums.items()})
    if first is None and not per_example_only:
        metrics.update(model.split_metrics(split, accelerator))
    model.train(was_training)
    return metrics


@torch.no_grad()
def drawn_sample_metrics(model, split, accelerator: Accelerator, samples: int = TEST_SAMPLES) -> dict[str, float]:
    """The model's sample metrics (``split_metrics``) from ``samples`` draws instead of its usual number (the
    short set a shipped file records, or ``metric_samples`` for the whole); empty for a model that draws none."""
    if model.metric_samples == 0:
        return {}
    was_training = model.training
    model.eval()
    metrics = model.split_metrics(split, accelerator, samples=samples)
    model.train(was_training)
    return metrics
