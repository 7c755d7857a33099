"""Sample quality as a model's split-level metric, and the results table of the families measured by it.

A family whose models sample images and have no likelihood (IGN, GANs) or whose likelihood says little about
its images declares ``split_metrics`` through ``SampleQuality``: ``n`` samples drawn through Accelerate (the
processes share the chunks; sample i depends on the seed and i alone), scored on the main process against the
split's images with ``genzoo.metrics.sample_metrics``, the numbers sent to every process.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from accelerate.utils import broadcast_object_list

from genzoo.checkpoint import training_cost
from genzoo.metrics.features import classifier_outputs, load_classifier, reference_outputs
from genzoo.metrics.sample_metrics import score_features
from genzoo.results import ResultsTable, fmt

SAMPLE_QUALITY_TABLE = ResultsTable(
    "sample-quality",
    (("checkpoint", "l"), ("architecture", "l"), ("parameters", "r"), ("data", "l"), ("steps", "r"),
     ("train time (s)", "r"), ("classifier FID", "r"),
     ("FID, f twice", "r"), ("KID", "r"), ("precision", "r"), ("recall", "r"), ("Inception Score", "r"),
     ("classes", "r"), ("class shares", "r"), ("idempotence gap", "r")),
    order=30)


def split_images(split) -> torch.Tensor:
    """All images of a split as float (N, C, H, W) in [0, 1] (labels, if any, dropped)."""
    batch = split.batch(slice(None))
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def idempotence_gap(before: torch.Tensor, after: torch.Tensor) -> float:
    """Mean over examples of ||after - before|| / ||before||."""
    gap = (after - before).flatten(1).norm(dim=1) / before.flatten(1).norm(dim=1).clamp_min(1e-12)
    return float(gap.mean())


@contextmanager
def one_thread():
    """Within it, torch's intra-op pool has one thread. A sampler that makes discrete choices (an autoregressive
    prior's inverse-CDF draw over 1024 codes) turns a last-bit difference in its logits into another sample, and
    the float rounding of a matmul depends on how its work is split among threads: on 1 and 2 threads
    ``vq-prior-mnist``'s 10000-sample FID was measured 386.53 and 386.49. One thread makes the draws, and so the
    recorded sample metrics, repeatable on any machine of one kind whatever its core count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class SampleQuality:
    """``score(model, split, accelerator)``: the sample metrics of ``samples`` draws of ``model`` against the
    images of ``split``, in the feature space of the classifier checkpoint ``classifier``; none when
    ``samples`` is 0. Beside the numbers, ``class_shares`` is the class histogram (a list), which the training
    log keeps at every evaluation so a collapse shows when it happens. ``steps``: also score
    ``model.sample(n, steps=k)`` for k = 2..steps (suffix ``_k``) and the idempotence gaps
    ||f^(k+1)(z) - f^k(z)|| / ||f^k(z)|| (``gap_k``), for models that iterate."""

    def __init__(self, classifier: str, samples: int, seed: int = 0):
        self.classifier, self.samples, self.seed = classifier, samples, seed

    def score(self, model, split, accelerator, steps: int | None = None, samples: int | None = None
              ) -> dict[str, float]:
        """``samples``: draw that many instead of ``self.samples`` (the same first draws: sample i depends on
        the seed and i alone)."""
        samples = self.samples if samples is None else samples
        if samples == 0:
            return {}
        from genzoo.sample import sample_many

        kwargs = {} if steps is None else {"steps": steps + 1, "all_steps": True}
        with one_thread():
            draws = sample_many(model, samples, accelerator, self.seed, **kwargs)  # main process only
        metrics = [self._scores(draws, split, steps) if accelerator.is_main_process else None]
        if accelerator.num_processes > 1:
            broadcast_object_list(metrics)
        return metrics[0]

    def _scores(self, draws: torch.Tensor, split, steps: int | None) -> dict[str, float]:
        classifier = load_classifier(self.classifier)
        real = reference_outputs(self.classifier, split_images(split))  # once per process and split
        sets = [draws] if steps is None else [draws[:, k] for k in range(steps)]
        out = {}
        for k, images in enumerate(sets, 1):
            scores = score_features(real, classifier_outputs(classifier, images))
            suffix = "" if k == 1 else f"_{k}"
            out.update({f"{key}{suffix}": value for key, value in scores.items()})  # class_shares: (K,) list
            if steps is not None:
                out[f"gap_{k}"] = idempotence_gap(draws[:, k - 1], draws[:, k])
        return out


def metric_cells(m: dict, gap: str = "-") -> list[str]:
    """Table cells of one set's sample metrics: classifier FID, KID, precision, recall, Inception Score, classes,
    class shares (smallest-largest), then ``gap``; "-" where a metric is missing. Every table of them uses it."""
    shares = f"{m['min_class_share']:.1%}-{m['max_class_share']:.1%}" if "min_class_share" in m else "-"
    return [fmt(m.get("fid")), fmt(m.get("kid"), 4), fmt(m.get("precision"), 3), fmt(m.get("recall"), 3),
            fmt(m.get("inception_score")), str(m.get("classes", "-")), shares, gap]


def sample_quality_headline(report) -> tuple[str, str]:
    """The front page's cells: classifier FID and recall of 10000 samples (no published MNIST figure)."""
    return f"classifier FID {fmt(report.test.get('fid'), 1)}, recall {fmt(report.test.get('recall'), 3)}", "-"


def sample_quality_row(report) -> list[str]:
    """A row of SAMPLE_QUALITY_TABLE from a report's test metrics (FID after two applications beside the first),
    with the optimizer steps and seconds that made the file, over all its warm-started pieces ("-" where a
    piece's seconds were not recorded)."""
    t, model = report.test, report.model
    gap = " / ".join(fmt(t[key], 4) for key in ("gap_1", "gap_2") if key in t) or "-"
    fid, *rest = metric_cells(t, gap)
    steps, seconds = training_cost(report.metadata)
    return [f"`{report.name}`", model.architecture, f"{model.num_parameters():,}", report.dataset.describe(),
            f"{steps:,}" if steps is not None else "-", fmt(seconds, 0), fid, fmt(t.get("fid_2")), *rest]
