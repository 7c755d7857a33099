"""Recompute the test metrics of every shipped checkpoint and print the results table.

    python -m genzoo.evaluate                 # print the table
    python -m genzoo.evaluate --write-readme  # also replace the table between the markers in README.md

Numbers come from evaluating the weights in checkpoints/ on the test split named in each file's metadata; the
paper column is the published figure the model is meant to match.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from accelerate import Accelerator

from genzoo.checkpoint import load_pretrained
from genzoo.data import load_split, pretrained_data_config
from genzoo.registry import list_pretrained
from genzoo.training import evaluate

# Published test NLL (nats) on static binarized MNIST, for the shipped configs.
PAPER = {
    "fvsbn-binmnist": (97.45, "Larochelle & Murray 2011"),
    "nade-binmnist": (88.86, "Larochelle & Murray 2011"),
    "made-binmnist": (88.40, "Germain et al. 2015, 1 mask"),
    "made-ensemble-binmnist": (86.64, "Germain et al. 2015, 32 masks"),
}
README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


def results(data_root: str | None = None) -> list[dict]:
    accelerator = Accelerator(cpu=True)
    rows = []
    for name in list_pretrained():
        model = load_pretrained(name)
        meta = model.pretrained_metadata
        data = pretrained_data_config(model, data_root)
        test = evaluate(model, load_split(data, "test"), accelerator)
        paper = PAPER.get(name)
        rows.append({
            "name": name, "architecture": meta["architecture"], "params": model.num_parameters(),
            "dataset": f"{data.name} ({data.binarization})" if data.name == "binarized_mnist" else data.name,
            "test_nll": test.get("nll"), "valid_nll": meta["metrics"].get("valid_nll"),
            "paper": f"{paper[0]:.2f} ({paper[1]})" if paper else "",
        })
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| checkpoint | architecture | parameters | data | test NLL (nats) | valid NLL | paper |",
             "|---|---|---:|---|---:|---:|---|"]
    for r in rows:
        fmt = lambda v: f"{v:.2f}" if isinstance(v, float) else "-"  # noqa: E731
        lines.append(f"| `{r['name']}` | {r['architecture']} | {r['params']:,} | {r['dataset']} | "
                     f"{fmt(r['test_nll'])} | {fmt(r['valid_nll'])} | {r['paper']} |")
    if not rows:
        lines.append("| (no shipped checkpoints yet) | | | | | | |")
    return "\n".join(lines)


def write_readme(table: str, path: Path = README) -> None:
    text = path.read_text()
    if START not in text or END not in text:
        raise ValueError(f"{path} has no {START} ... {END} markers to put the table between")
    block = f"{START}\n{table}\n{END}"
    path.write_text(re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S))


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-readme", action="store_true", help="replace the results table in README.md")
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args(argv)
    table = markdown(results(args.data_root))
    print(table)
    if args.write_readme:
        write_readme(table)
    return table


if __name__ == "__main__":
    main()
