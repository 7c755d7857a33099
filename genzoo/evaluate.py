"""Check every shipped checkpoint against what it recorded, then print the results tables.

    python -m genzoo.evaluate                      # check each file, print the tables (also: genzoo-evaluate)
    python -m genzoo.evaluate NAME ...             # only these checkpoints
    python -m genzoo.evaluate --full               # recompute the whole test splits (minutes to an hour)
    python -m genzoo.evaluate --write-readme       # --full, then write the tables into README.md and docs/
    python -m genzoo.evaluate --write-readme NAME ...          # ... replacing only these checkpoints' rows
    python -m genzoo.evaluate --record-test-head NAME ...      # add test_head1000_* metrics to older files
    python -m genzoo.evaluate --record-test-head --head 100 NAME ...  # a shorter head for a slow model
    python -m genzoo.evaluate --record-test-samples NAME ...   # add test_samples1000_* (sample-scored models)

The check (the default) loads each file, which verifies its tensors against the content hash in its metadata,
re-measures the short forms it recorded at export (the per-example metrics of the first test examples,
``test_head<N>_*``, and for models scored by their samples the metrics of their first 1000 samples,
``test_samples<N>_*``), and fails naming the file and the metric on any disagreement beyond float tolerance.
The tables then give the whole-split test metrics recorded in the metadata. ``--full`` recomputes the whole
splits (after the check, with an estimated time and a progress bar per checkpoint) and fails the same way if
they differ from the recorded ones. Each model's family declares its tables and fills its rows
(``results_table``, ``results_row``, ``headline``); progress goes to stderr, the tables to stdout.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from accelerate import Accelerator

from genzoo.checkpoint import (add_metrics, load_pretrained, rebuilt_history, record_source_totals,
                               replace_history)
from genzoo.data import pretrained_dataset
from genzoo.doc_tables import page_with, replace_rows, write_block
from genzoo.evaluation import TEST_HEAD, TEST_SAMPLES, evaluate, drawn_sample_metrics
from genzoo.progress import progress_shown
from genzoo.registry import list_pretrained
from genzoo.results import Report, markdown, summary_markdown

RESULTS, MODELS = "results", "models"  # the markers of the full tables (docs/results.md), the front page's table
REL_TOL, ABS_TOL = 1e-4, 1e-5  # float tolerance of a re-measured metric (thread counts change sums' rounding)
# ... and of a sample metric: a discrete sampler (an autoregressive prior's draw over 1024 codes) turns last-bit
# differences between machines into a few other samples. Drawn on one thread here they repeat exactly; on 2 and
# 3 threads vq-prior-mnist's 1000-sample FID moved 0.001% and 0.12%, its precision 0.001: 0.5% is 4x that, far
# below what a broken sampler or model moves (fsq-prior's FID is 373.8, the GAN's 918)
SAMPLE_REL_TOL, SAMPLE_ABS_TOL = 5e-3, 5e-3
SHORT = re.compile(r"test_(head|samples)(\d+)_(.+)")


class CheckFailed(ValueError):
    """A shipped file that does not give what it recorded (damaged tensors, or metrics that moved)."""


@dataclass
class Check:
    """One checkpoint's check: its report (whole-split metrics as recorded, or as recomputed with --full),
    what was re-measured, and the seconds each part took (for the --full estimate)."""

    report: Report
    split: object  # the test split
    checked: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def short_forms(recorded: dict) -> dict[str, int]:
    """The shortest head and sample count a file recorded: {"head": N, "samples": M} (either may be absent)."""
    found: dict[str, int] = {}
    for key in recorded:
        if m := SHORT.match(key):
            found[m.group(1)] = min(found.get(m.group(1), math.inf), int(m.group(2)))
    return found


def recorded_test(recorded: dict) -> dict[str, float]:
    """The whole-split test metrics a file recorded ({metric: value}; the short forms left out)."""
    return {k[len("test_"):]: v for k, v in recorded.items() if k.startswith("test_") and not SHORT.match(k)}


def disagreements(now: dict, recorded: dict, prefix: str, sampled: bool = False) -> list[str]:
    """Metrics of ``now`` that differ from ``recorded[prefix + name]`` beyond float tolerance (``sampled``: the
    tolerance of sample metrics), described."""
    rel, abs_ = (SAMPLE_REL_TOL, SAMPLE_ABS_TOL) if sampled else (REL_TOL, ABS_TOL)
    differ = []
    for key, value in now.items():
        was = recorded.get(f"{prefix}{key}")
        if isinstance(value, list):  # a histogram: each entry checked where recorded (older files recorded none)
            if was is not None and (len(was) != len(value) or not all(
                    math.isclose(v, w, rel_tol=rel, abs_tol=abs_) for v, w in zip(value, was))):
                differ.append(f"{prefix}{key} {value} now, {was} recorded")
            continue
        if was is None or not math.isclose(value, was, rel_tol=rel, abs_tol=abs_):
            differ.append(f"{prefix}{key} {value:.8g} now, {'not recorded' if was is None else f'{was:.8g} recorded'}")
    return differ


def _load(name: str, data_root: str | None):
    """(model, dataset, test split) of checkpoint ``name``; a file that fails its hash is a CheckFailed."""
    try:
        model = load_pretrained(name)
    except ValueError as exc:
        raise CheckFailed(f"{name}: {exc}") from exc
    dataset = pretrained_dataset(model, data_root)
    return model, dataset, dataset.load("test")


def _display_name(name) -> str:
    return Path(name).stem if str(name).endswith(".safetensors") else str(name)


def check(name: str, accelerator: Accelerator, data_root: str | None = None) -> Check:
    """Verify checkpoint ``name`` (tensor hash on load) and re-measure its recorded short forms; the report
    holds the whole-split test metrics it recorded."""
    start = time.perf_counter()
    model, dataset, split = _load(name, data_root)
    recorded = model.pretrained_metadata["metrics"]
    result = Check(Report(_display_name(name), model, dataset, recorded_test(recorded), model.pretrained_metadata),
                   split, ["tensors sha256"], {"load": time.perf_counter() - start})
    forms = short_forms(recorded)
    if not forms:
        raise CheckFailed(f"{name}: records no test head to check (add one: python -m genzoo.evaluate "
                          f"--record-test-head {name})")
    if model.metric_samples and "samples" not in forms:
        raise CheckFailed(f"{name}: scored by its samples but records no short sample set (add one: python -m "
                          f"genzoo.evaluate --record-test-samples {name})")
    differ = []
    if "head" in forms:
        start = time.perf_counter()
        now = evaluate(model, split, accelerator, first=forms["head"])
        result.seconds["head"] = time.perf_counter() - start
        differ += disagreements(now, recorded, f"test_head{forms['head']}_")
        result.checked.append(f"first {forms['head']} test examples")
    if "samples" in forms:
        start = time.perf_counter()
        now = drawn_sample_metrics(model, split, accelerator, forms["samples"])
        result.seconds["samples"] = time.perf_counter() - start
        differ += disagreements(now, recorded, f"test_samples{forms['samples']}_", sampled=True)
        result.checked.append(f"{forms['samples']} samples")
    if differ:
        raise CheckFailed(f"{name}: does not give what it recorded: {'; '.join(differ)}")
    return result


def estimated_seconds(result: Check) -> float:
    """The whole split's time from the check's: per-example metrics scale with the examples, sample metrics
    with the samples."""
    model, recorded = result.report.model, result.report.model.pretrained_metadata["metrics"]
    forms, seconds = short_forms(recorded), result.seconds
    total = seconds.get("head", 0.0) * len(result.split) / forms["head"] if "head" in forms else 0.0
    if "samples" in forms:
        total += seconds["samples"] * model.metric_samples / forms["samples"]
    return total


def measure(result: Check, accelerator: Accelerator) -> Check:
    """Recompute checkpoint ``result``'s whole test split; a CheckFailed if it differs from what it recorded."""
    report = result.report
    model, recorded = report.model, report.model.pretrained_metadata["metrics"]
    start = time.perf_counter()
    now = evaluate(model, result.split, accelerator, per_example_only=True)
    sampled = drawn_sample_metrics(model, result.split, accelerator, model.metric_samples)
    differ = disagreements(now, recorded, "test_") + disagreements(sampled, recorded, "test_", sampled=True)
    if differ:
        raise CheckFailed(f"{report.name}: its whole test split does not give what it recorded: {'; '.join(differ)}")
    report.test = {**now, **sampled}
    result.checked.append("whole test split")
    result.seconds["full"] = time.perf_counter() - start
    return result


def results(names: list[str] | None = None, data_root: str | None = None, full: bool = False) -> list[Check]:
    """Checks of ``names`` (default: every shipped checkpoint), and with ``full`` their whole splits
    recomputed; one line per checkpoint on stderr. Every file is checked before any fails the run."""
    accelerator = Accelerator(cpu=True)
    names = list_pretrained() if names is None else names
    checks, failed = [], []
    for i, name in enumerate(names, 1):
        try:
            checks.append(check(name, accelerator, data_root))
        except CheckFailed as exc:
            failed.append(str(exc))
            print(f"[{i}/{len(names)}] FAILED {exc}", file=sys.stderr, flush=True)
            continue
        c = checks[-1]
        print(f"[{i}/{len(names)}] {name}: agrees with its metadata ({', '.join(c.checked)}; "
              f"{sum(c.seconds.values()):.1f} s)", file=sys.stderr, flush=True)
    if failed:
        raise CheckFailed(f"{len(failed)} of {len(names)} checkpoint(s) failed their check:\n" + "\n".join(failed))
    if full:
        estimates = [estimated_seconds(c) for c in checks]
        print(f"--full: the whole test splits, about {sum(estimates) / 60:.0f} min on this machine "
              f"({', '.join(f'{c.report.name} {s:.0f} s' for c, s in zip(checks, estimates))})",
              file=sys.stderr, flush=True)
        for i, (c, estimate) in enumerate(zip(checks, estimates), 1):
            with progress_shown(f"[{i}/{len(checks)}] {c.report.name}"):
                measure(c, accelerator)
            metrics = ", ".join(f"{k} {v:.5g}" for k, v in c.report.test.items() if not isinstance(v, list))
            print(f"[{i}/{len(checks)}] {c.report.name}: {metrics} ({c.seconds['full']:.1f} s, estimated "
                  f"{estimate:.0f} s)", file=sys.stderr, flush=True)
    return checks


def checks_table(checks: list[Check]) -> str:
    """What each checkpoint's numbers rest on: the parts re-measured now and their seconds."""
    lines = ["| checkpoint | verified now | seconds |", "|---|---|---:|"]
    lines += [f"| `{c.report.name}` | {', '.join(c.checked)} | {sum(c.seconds.values()):.1f} |" for c in checks]
    return "\n".join(lines)


def record_test_head(name: str, accelerator: Accelerator, data_root: str | None = None,
                     head: int = TEST_HEAD) -> dict[str, float]:
    """Add the per-example test metrics on the first ``head`` test examples to checkpoint ``name`` (files
    exported before exports recorded them, or a shorter head for a model whose likelihood is slow), which its
    check then re-measures in seconds (the shortest head recorded). The whole split's per-example metrics are
    recomputed first and must equal those recorded at export: the head is recorded only for weights that still
    give their published numbers."""
    if not 0 < head <= TEST_HEAD:
        raise ValueError(f"head={head}: expected 1 to {TEST_HEAD} test examples")
    model, _, split = _load(name, data_root)
    recorded = model.pretrained_metadata["metrics"]
    differ = disagreements(evaluate(model, split, accelerator, per_example_only=True), recorded, "test_")
    if differ:
        raise ValueError(f"{name}: the test metrics differ from those recorded at export ({'; '.join(differ)}); "
                         "head metrics not recorded")
    metrics = {f"test_head{head}_{k}": v for k, v in evaluate(model, split, accelerator, first=head).items()}
    add_metrics(name, metrics)
    return metrics


def record_test_samples(name: str, accelerator: Accelerator, data_root: str | None = None,
                        samples: int = TEST_SAMPLES, remeasure: bool = False) -> dict[str, float]:
    """Add the metrics of the first ``samples`` samples (``test_samples<N>_*``) to checkpoint ``name``, a model
    scored by its samples, after its whole-split sample metrics are recomputed and found equal to those
    recorded at export. ``remeasure``: record the recomputed sample metrics (whole split and first
    ``samples``) in place of those recorded (for a file whose draws the export made with other arithmetic, e.g.
    bf16 autocast, down to the last bit; see ``one_thread``), printing each whole-split change; the per-example metrics are never
    touched."""
    model, _, split = _load(name, data_root)
    if model.metric_samples == 0:
        raise ValueError(f"{name} ({model.architecture}) is not scored by its samples; nothing to record")
    if not 0 < samples < model.metric_samples:
        raise ValueError(f"samples={samples}: expected 1 to {model.metric_samples - 1} (fewer than the "
                         f"{model.metric_samples} its split metrics draw)")
    recorded = model.pretrained_metadata["metrics"]
    whole = drawn_sample_metrics(model, split, accelerator, model.metric_samples)
    differ = disagreements(whole, recorded, "test_", sampled=True)
    if differ and not remeasure:
        raise ValueError(f"{name}: the sample metrics differ from those recorded at export ({'; '.join(differ)}); "
                         "not recorded (--remeasure records the recomputed ones)")
    metrics = {f"test_samples{samples}_{k}": v for k, v in drawn_sample_metrics(model, split, accelerator,
                                                                                samples).items()}
    if differ:
        print(f"{name}: re-recorded: {'; '.join(differ)}", file=sys.stderr)
        metrics.update({f"test_{k}": v for k, v in whole.items()})
    # add_metrics compares exactly: a re-draw whose whole split agrees within tolerance may still differ from the
    # recorded first samples in the last bits (fsq-prior-mnist's FID: 120.39486252751294 against ...158)
    add_metrics(name, metrics, replace=remeasure)
    return metrics


def write_tables(reports: list[Report], rows_only: bool) -> None:
    """The full tables into the page holding the results markers, the front page's models table into its own."""
    for marker, table in ((RESULTS, markdown(reports)), (MODELS, summary_markdown(reports))):
        path = replace_rows(marker, table) if rows_only else write_block(marker, table)
        print(f"wrote the {marker} table in {path}", file=sys.stderr)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="recompute the whole test splits (after the check)")
    parser.add_argument("--write-readme", "--write-docs", action="store_true",
                        help="--full, then write the tables into README.md and docs/results.md (with names: only "
                             "those checkpoints' rows)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--record-test-head", action="store_true",
                        help="add the metrics on the first --head test examples to the named checkpoints "
                             "(after checking the whole split against the recorded metrics); no tables")
    parser.add_argument("--head", type=int, default=TEST_HEAD,
                        help=f"with --record-test-head: how many examples (1 to {TEST_HEAD})")
    parser.add_argument("--record-test-samples", action="store_true",
                        help="add the metrics of the first --samples samples to the named checkpoints scored by "
                             "their samples (after checking their whole-split sample metrics); no tables")
    parser.add_argument("--samples", type=int, default=TEST_SAMPLES,
                        help=f"with --record-test-samples: how many samples (default {TEST_SAMPLES})")
    parser.add_argument("--remeasure", action="store_true",
                        help="with --record-test-samples: record the recomputed whole-split sample metrics where "
                             "they differ from the export's, instead of refusing")
    parser.add_argument("--record-totals-from", metavar="SOURCE", default=None,
                        help="add steps_total and train_seconds_total to the one named warm start, read from SOURCE, "
                             "the file it started from (checked by its tensors' hash; e.g. git show "
                             "REV:genzoo/checkpoints/NAME.safetensors > old.safetensors); no tables")
    parser.add_argument("--rebuild-history-from", metavar="FILE", nargs="+", default=None,
                        help="NAME --rebuild-history-from FILE...: redraw the warm start NAME's learning curve from "
                             "the files of its chain, oldest first, each the source of the next and the last the "
                             "source of NAME "
                             "(checkpoint.rebuilt_history: each piece from the step of the weights it started from; "
                             "e.g. git show REV:genzoo/checkpoints/NAME.safetensors > old.safetensors); no tables")
    parser.add_argument("names", nargs="*", help="checkpoints to evaluate (default: every shipped one)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> str:
    args = parse_args(argv)
    if args.record_totals_from:
        if len(args.names) != 1:
            raise SystemExit(f"--record-totals-from takes exactly one checkpoint name, got {args.names}")
        totals = record_source_totals(args.names[0], args.record_totals_from)
        print(f"{args.names[0]}: {totals}", file=sys.stderr)
        return ""
    if args.rebuild_history_from:
        if len(args.names) != 1:
            raise SystemExit(f"--rebuild-history-from takes exactly one checkpoint name, got {args.names}")
        history = rebuilt_history([*args.rebuild_history_from, args.names[0]])
        replace_history(args.names[0], history)
        print(f"{args.names[0]}: {len(history)} curve records to step {max(r['step'] for r in history)}",
              file=sys.stderr)
        return ""
    if args.record_test_head or args.record_test_samples:
        accelerator = Accelerator(cpu=True)
        for name in args.names or list_pretrained():
            recorded = (record_test_head(name, accelerator, args.data_root, args.head) if args.record_test_head else
                        record_test_samples(name, accelerator, args.data_root, args.samples, args.remeasure))
            print(f"{name}: {recorded}", file=sys.stderr, flush=True)
        return ""
    full = args.full or args.write_readme
    if args.write_readme:  # before an hour of measuring, not after
        for marker in (RESULTS, MODELS):
            page_with(marker)
    checks = results(sorted(args.names) or None, args.data_root, full=full)  # rows in a full rebuild's order
    reports = [c.report for c in checks]
    table = markdown(reports)
    source = ("recomputed now on the whole test splits" if full else
              "as recorded at export on the whole test splits; each file re-checked now as listed below "
              "(python -m genzoo.evaluate --full recomputes the whole splits)")
    print(f"Test metrics {source}.\n\n{table}\n\n{checks_table(checks)}")
    if args.write_readme:
        write_tables(reports, rows_only=bool(args.names))
    return table


def cli() -> None:
    """``genzoo-evaluate``: exits with status 1 naming the files that fail their check."""
    try:
        main()
    except CheckFailed as exc:
        sys.exit(f"genzoo.evaluate: {exc}")


if __name__ == "__main__":
    cli()
