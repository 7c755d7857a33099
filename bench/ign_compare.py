"""IGN against the same-size GAN, scored by the shipped classifier's sample metrics, at equal steps and at equal
training time, with the calibration rows that give the metrics their scale:

    python -m bench.ign_compare runs/ign-mnist runs/ign-single-pass runs/gan-mnist runs/gan-ns \
        [--at-steps 1500 3000] [--n 10000] [--write-readme [--marker ign-compare]]

Each run folder is one `train/ign.py` run; its saved states (``checkpoints/step_*``, EMA weights where kept) are
rebuilt from the run's ``config.json`` and scored at each step of ``--at-steps`` it holds (default: its last).
Time is the run's own record of its optimizer steps (``train_seconds``; runs on a shared 2-core CPU, so take the
step times of ``python -m bench.ign_forms`` for the forms' speed). IGN rows are scored at one and at two
applications of f, with the idempotence gap ||f(f(z)) - f(z)|| / ||f(z)||.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from accelerate import Accelerator
from safetensors.torch import load_file

from bench.common import markdown_table, print_table
from genzoo.cli import build_run
from genzoo.doc_tables import write_block
from genzoo.metrics.__main__ import Scorer, calibration_rows
from genzoo.metrics.quality import idempotence_gap, metric_cells
from genzoo.results import fmt
from genzoo.run_folder import EMA_FILE, STATE_FILE
from genzoo.sample import sample_many

MARKER = "ign-compare"  # the table lies between the marker's lines in README.md or a docs/ page (--marker)
HEADERS = ["run", "form / loss", "parameters", "step", "train time (s)", "classifier FID", "KID", "precision",
           "recall", "Inception Score", "classes", "class shares", "idempotence gap"]


def load_state(run: Path, step: int):
    """The run's model with the (EMA) weights of its checkpoint at ``step``, and the seconds trained to it."""
    config = json.loads((run / "config.json").read_text())
    model, _, _ = build_run(config)
    folder = run / "checkpoints" / f"step_{step:08d}"
    if (folder / EMA_FILE).is_file():
        state = {k.removeprefix("module."): v for k, v in load_file(folder / EMA_FILE).items() if k != "n_averaged"}
    else:
        state = {k.removeprefix("model."): v for k, v in load_file(folder / "model.safetensors").items()}
    model.load_state_dict(state)
    seconds = json.loads((folder / STATE_FILE).read_text())["train"].get("seconds")
    return model.eval(), seconds


def saved_steps(run: Path) -> list[int]:
    return sorted(int(p.name.removeprefix("step_")) for p in (run / "checkpoints").glob("step_*"))


def draw(model, n: int, **kwargs) -> torch.Tensor:
    """n samples drawn by the sample command's sample_many (one process here), seed 0."""
    return sample_many(model, n, Accelerator(cpu=True), seed=0, **kwargs)


def rows_of(scorer: Scorer, run: Path, step: int, n: int) -> list[list[str]]:
    model, seconds = load_state(run, step)
    iterates = model.architecture == "ign"
    what = model.config.form if iterates else model.config.loss
    samples = draw(model, n, steps=3, all_steps=True) if iterates else draw(model, n)[:, None]
    rows = []
    for k in range(2 if iterates else 1):
        m = scorer.score(samples[:, k])
        gap = idempotence_gap(samples[:, k], samples[:, k + 1]) if iterates else None
        name = run.name + (f", f applied {k + 1}x" if iterates else "")
        rows.append([name, what, f"{model.num_parameters():,}", str(step), fmt(seconds, 0),
                     *metric_cells(m, fmt(gap, 4))])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--at-steps", nargs="*", type=int, default=None)
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument("--marker", default=MARKER, help="the block --write-readme replaces (one per comparison)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    scorer = Scorer()
    rows = [[name, "calibration", "-", "-", "-", *cells[1:]] for name, *cells in calibration_rows(scorer, args.n)]
    for run in args.runs:
        steps = [s for s in (args.at_steps or saved_steps(run)[-1:]) if s in saved_steps(run)]
        for step in steps:
            rows += rows_of(scorer, run, step, args.n)
    print_table(HEADERS, rows)
    if args.write_readme:
        caption = (f"{args.n} samples against the 10000 MNIST test digits, features of `mnist-classifier` "
                   "(`python -m bench.ign_compare`)")
        write_block(args.marker, f"{caption}\n\n{markdown_table(HEADERS, rows)}")


if __name__ == "__main__":
    main()
