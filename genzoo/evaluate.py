"""Recompute the test metrics of every shipped checkpoint and print the results tables.

    python -m genzoo.evaluate                 # print the tables (also: genzoo-evaluate)
    python -m genzoo.evaluate --write-readme  # also replace the tables between the markers in README.md
    python -m genzoo.evaluate --write-readme NAME ...  # re-measure these checkpoints, replace only their rows
    python -m genzoo.evaluate --record-test-head NAME ...  # add test_head1000_* metrics to older files
    python -m genzoo.evaluate --record-test-head --head 100 NAME ...  # a shorter head for a slow model's test

Numbers come from evaluating the weights in genzoo/checkpoints/ on the test split named in each file's
metadata. Each model's family declares its table and fills its row (``results_table``, ``results_row``);
progress goes to stderr, the tables to stdout.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from accelerate import Accelerator

from genzoo.checkpoint import add_metrics, load_pretrained
from genzoo.data import pretrained_dataset
from genzoo.evaluation import TEST_HEAD, evaluate
from genzoo.registry import list_pretrained
from genzoo.results import Report, markdown

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


def report(name: str, accelerator: Accelerator, data_root: str | None = None) -> Report:
    """The checkpoint ``name`` (or path) with its test metrics measured now."""
    model = load_pretrained(name)
    dataset = pretrained_dataset(model, data_root)
    test = evaluate(model, dataset.load("test"), accelerator)
    return Report(Path(name).stem if str(name).endswith(".safetensors") else str(name), model, dataset, test,
                  model.pretrained_metadata)


def results(names: list[str] | None = None, data_root: str | None = None) -> list[Report]:
    """Reports of ``names`` (default: every shipped checkpoint), with progress lines on stderr."""
    accelerator = Accelerator(cpu=True)
    names = list_pretrained() if names is None else names
    reports = []
    for i, name in enumerate(names, 1):
        start = time.perf_counter()
        reports.append(report(name, accelerator, data_root))
        metrics = ", ".join(f"{k} {v:.5g}" for k, v in reports[-1].test.items())
        print(f"[{i}/{len(names)}] {name}: {metrics} ({time.perf_counter() - start:.1f} s)", file=sys.stderr,
              flush=True)
    return reports


def record_test_head(name: str, accelerator: Accelerator, data_root: str | None = None,
                     head: int = TEST_HEAD) -> dict[str, float]:
    """Add the per-example test metrics on the first ``head`` test examples to checkpoint ``name`` (files
    exported before exports recorded them, or a shorter head for a model whose likelihood is slow), which its
    test then checks in seconds (the shortest head recorded). The whole split's
    per-example metrics are recomputed first and must equal those recorded at export: the head is recorded
    only for weights that still give their published numbers."""
    if not 0 < head <= TEST_HEAD:
        raise ValueError(f"head={head}: expected 1 to {TEST_HEAD} test examples")
    model = load_pretrained(name)
    split = pretrained_dataset(model, data_root).load("test")
    recorded = model.pretrained_metadata["metrics"]
    now = evaluate(model, split, accelerator, per_example_only=True)
    differ = [f"{k}: {v:.6g} now, {recorded.get(f'test_{k}')} recorded" for k, v in now.items()
              if not math.isclose(v, recorded.get(f"test_{k}", math.nan), rel_tol=1e-4, abs_tol=1e-5)]
    if differ:
        raise ValueError(f"{name}: the test metrics differ from those recorded at export ({'; '.join(differ)}); "
                         "head metrics not recorded")
    metrics = {f"test_head{head}_{k}": v for k, v in evaluate(model, split, accelerator, first=head).items()}
    add_metrics(name, metrics)
    return metrics


def _around_markers(path: Path, start: str, end: str) -> tuple[str, str, str]:
    """(text before ``start``, text between the markers, text after ``end``) of ``path``."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: --write-readme works in a checkout of genzoo")
    text = path.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{path} has no {start} ... {end} markers to put the table between")
    head, rest = text.split(start, 1)
    block, tail = rest.split(end, 1)
    return head, block, tail


def write_readme(table: str, path: Path = README, start: str = START, end: str = END) -> None:
    """Replace what lies between the ``start`` and ``end`` markers of ``path`` with ``table``."""
    head, _, tail = _around_markers(path, start, end)
    path.write_text(f"{head}{start}\n{table}\n{end}{tail}")


def replace_rows(tables: str, path: Path = README, start: str = START, end: str = END) -> None:
    """Replace in ``path``'s results tables the rows of the checkpoints in ``tables`` (each table's header must be
    there already; a checkpoint without a row in its table, a newly shipped one, gets one at the table's end):
    re-measuring one checkpoint leaves the others' rows as their last full run wrote them."""
    head, block, tail = _around_markers(path, start, end)
    lines = block.split("\n")
    for table in tables.split("\n\n"):
        header, _, *rows = table.split("\n")
        if header not in lines:
            raise ValueError(f"{path} has no results table headed {header!r}: rebuild the tables (no names)")
        first = lines.index(header)
        for row in rows:
            cell = row.split(" | ")[0] + " |"  # "| `name` |"
            # the table's rows run to the first blank line (or the end of the block)
            at = next((i for i in range(first + 2, len(lines)) if lines[i].startswith(cell) or not lines[i]),
                      len(lines))
            if at < len(lines) and lines[at].startswith(cell):
                lines[at] = row
            else:
                lines.insert(at, row)
    path.write_text(head + start + "\n".join(lines) + end + tail)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-readme", action="store_true",
                        help="replace the results tables in README.md (with names: only those checkpoints' rows)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--record-test-head", action="store_true",
                        help="add the metrics on the first --head test examples to the named checkpoints "
                             "(after checking the whole split against the recorded metrics); no tables")
    parser.add_argument("--head", type=int, default=TEST_HEAD, help=f"with --record-test-head: how many examples (1 to {TEST_HEAD})")
    parser.add_argument("names", nargs="*", help="checkpoints to evaluate (default: every shipped one)")
    args = parser.parse_args(argv)
    if args.record_test_head:
        accelerator = Accelerator(cpu=True)
        for name in args.names or list_pretrained():
            head = record_test_head(name, accelerator, args.data_root, args.head)
            print(f"{name}: {head}", file=sys.stderr, flush=True)
        return ""
    table = markdown(results(args.names or None, args.data_root))
    print(table)
    if args.write_readme:
        if args.names:
            replace_rows(table)
        else:
            write_readme(table)
    return table


def cli() -> None:
    """``genzoo-evaluate``."""
    main()


if __name__ == "__main__":
    cli()
