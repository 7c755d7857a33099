"""Recompute the test metrics of every shipped checkpoint and print the results tables.

    python -m genzoo.evaluate                 # print the tables (also: genzoo-evaluate)
    python -m genzoo.evaluate --write-readme  # also replace the tables between the markers in README.md

Numbers come from evaluating the weights in genzoo/checkpoints/ on the test split named in each file's
metadata. Each model's family declares its table and fills its row (``results_table``, ``results_row``);
progress goes to stderr, the tables to stdout.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from accelerate import Accelerator

from genzoo.checkpoint import load_pretrained
from genzoo.data import pretrained_dataset
from genzoo.evaluation import evaluate
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


def write_readme(table: str, path: Path = README, start: str = START, end: str = END) -> None:
    """Replace what lies between the ``start`` and ``end`` markers of ``path`` with ``table``."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: --write-readme works in a checkout of genzoo")
    text = path.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{path} has no {start} ... {end} markers to put the table between")
    block = f"{start}\n{table}\n{end}"
    path.write_text(re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S))


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-readme", action="store_true", help="replace the results tables in README.md")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("names", nargs="*", help="checkpoints to evaluate (default: every shipped one)")
    args = parser.parse_args(argv)
    table = markdown(results(args.names or None, args.data_root))
    print(table)
    if args.write_readme:
        write_readme(table)
    return table


def cli() -> None:
    """``genzoo-evaluate``."""
    main()


if __name__ == "__main__":
    cli()
