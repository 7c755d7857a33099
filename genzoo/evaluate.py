"""Recompute the test metrics of every shipped checkpoint and print the results table.

    python -m genzoo.evaluate                 # print the table
    python -m genzoo.evaluate --write-readme  # also replace the table between the markers in README.md

Numbers come from evaluating the weights in checkpoints/ on the test split named in each file's metadata; the
paper column is the published figure the model is meant to match.
"""
from __future__ import annotations

import argparse
import copy
import re
from pathlib import Path

import torch
from accelerate import Accelerator

from genzoo.checkpoint import load_pretrained
from genzoo.data import load_split, pretrained_data_config, toy1d
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
    """One row per shipped checkpoint: its test metrics recomputed now, plus what its metadata says."""
    accelerator = Accelerator(cpu=True)
    rows = []
    for name in list_pretrained():
        model = load_pretrained(name)
        meta = model.pretrained_metadata
        data = pretrained_data_config(model, data_root)
        paper = PAPER.get(name)
        rows.append({
            "name": name, "architecture": meta["architecture"], "params": model.num_parameters(),
            "dataset": f"{data.name} ({data.binarization})" if data.name == "binarized_mnist" else data.name,
            "test": evaluate(model, load_split(data, "test"), accelerator),
            "valid": {k[len("valid_"):]: v for k, v in meta["metrics"].items() if k.startswith("valid_")},
            "paper": f"{paper[0]:.2f} ({paper[1]})" if paper else "",
            "quantizer": _quantizer_name(model),
            "target": data.target if data.name == "toy1d" else "",
            "kl": _kl_to_target(model, data.target) if data.name == "toy1d" and data.target != "file" else None,
        })
    return rows


def _kl_to_target(model, target: str) -> float:
    """KL(target || model) in nats by quadrature (genzoo.data.toy1d.kl_divergence), in float64."""
    model = copy.deepcopy(model).double()
    with torch.no_grad():
        return toy1d.kl_divergence(target, lambda y: model.log_prob(torch.from_numpy(y)[:, None])[:, 0].numpy())


def _quantizer_name(model) -> str:
    quantizer = getattr(model, "quantizer", None)
    if quantizer is None:
        return ""
    if hasattr(quantizer, "levels"):
        return f"FSQ {list(quantizer.levels)}"
    return f"VQ {quantizer.estimator}, {quantizer.codebook_size} codes"


def _fmt(value, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else "-"


def markdown(rows: list[dict]) -> str:
    """Image likelihood models (test NLL), autoencoders (reconstruction, codebook use) and 1-D densities (test
    NLL, KL to the known target), one table each."""
    likelihood = [r for r in rows if "nll" in r["test"] and not r.get("target")]
    densities = [r for r in rows if r.get("target")]
    autoencoders = [r for r in rows if "mse" in r["test"]]
    lines = ["| checkpoint | architecture | parameters | data | test NLL (nats) | valid NLL | paper |",
             "|---|---|---:|---|---:|---:|---|"]
    for r in likelihood:
        lines.append(f"| `{r['name']}` | {r['architecture']} | {r['params']:,} | {r['dataset']} | "
                     f"{_fmt(r['test']['nll'])} | {_fmt(r['valid'].get('nll'))} | {r['paper']} |")
    if not likelihood:
        lines.append("| (no shipped likelihood models yet) | | | | | | |")
    if autoencoders:
        lines += ["", "| checkpoint | quantizer | parameters | data | test MSE | PSNR (dB) | codes used | perplexity "
                  "| quantization error |", "|---|---|---:|---|---:|---:|---:|---:|---:|"]
        for r in autoencoders:
            t = r["test"]
            lines.append(f"| `{r['name']}` | {r['quantizer']} | {r['params']:,} | {r['dataset']} | "
                         f"{_fmt(t['mse'], 5)} | {_fmt(t['psnr'])} | {t['usage']:.1%} | {_fmt(t['perplexity'], 1)} "
                         f"| {_fmt(t['quant_error'], 4)} |")
    if densities:
        lines += ["", "| checkpoint | model | parameters | target | test NLL (nats) | KL(target \\|\\| model) |",
                  "|---|---|---:|---|---:|---:|"]
        for r in densities:
            lines.append(f"| `{r['name']}` | {r['architecture']} | {r['params']:,} | {r['target']} | "
                         f"{_fmt(r['test']['nll'], 4)} | {_fmt(r['kl'], 5)} |")
    return "\n".join(lines)


def write_readme(table: str, path: Path = README, start: str = START, end: str = END) -> None:
    """Replace what lies between the ``start`` and ``end`` markers of ``path`` with ``table``."""
    text = path.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{path} has no {start} ... {end} markers to put the table between")
    block = f"{start}\n{table}\n{end}"
    path.write_text(re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S))


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
