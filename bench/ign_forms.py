"""Step time of IGN's three exact forms of one objective, and of the same-size GAN, side by side in one run:

    python -m bench.ign_forms [--width 32] [--batch-size 128] [--repeats 7] [--threads 1] [--write-readme]

A step = loss + backward + Adam update. The forms are timed in turn, round after round (so slow spells of the
machine hit them alike), and the median per form is reported with its ratio to the paper form. The gradients of
every form are compared with the paper form's in float64 on a small network (they are equal by construction:
tests/models/ign). ``single_pass`` runs three applications of f where the others run four.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.common import markdown_table, print_table
from genzoo import create_model
from genzoo.doc_tables import write_block
from genzoo.models.ign.ign import FORMS

MARKER = "ign-forms"  # the table lies between this marker's lines in README.md or a docs/ page
VARIANTS = [("ign", {"form": form}) for form in FORMS] + [("gan", {"loss": "hinge"}), ("gan", {"loss": "non_saturating"})]


def label(name: str, options: dict) -> str:
    return f"IGN {options['form']}" if name == "ign" else f"GAN {options['loss']}"


def step_fn(model, batch):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.5, 0.999))

    def step():
        loss, _ = model.loss(batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def max_gradient_difference(form: str) -> float:
    """max |grad - grad_paper| over the parameters, float64, width 4, batch 4 (the same noise)."""
    def grads(f):
        torch.manual_seed(0)
        model = create_model("ign", width=4, form=f, metric_samples=0).double()
        torch.manual_seed(1)
        model.loss(torch.rand(4, 1, 28, 28, dtype=torch.float64))[0].backward()
        return [p.grad for p in model.parameters()]

    return max(float((a - b).abs().max()) for a, b in zip(grads(form), grads("paper")))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    batch = torch.rand(args.batch_size, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    steps, times, sizes = {}, {}, {}
    for name, options in VARIANTS:
        torch.manual_seed(0)
        model = create_model(name, width=args.width, metric_samples=0, **options)
        steps[label(name, options)] = step_fn(model, batch)
        sizes[label(name, options)] = model.num_parameters()
        steps[label(name, options)]()  # warm-up
    for _ in range(args.repeats):
        for key, step in steps.items():
            start = time.perf_counter()
            step()
            times.setdefault(key, []).append(time.perf_counter() - start)
    paper = statistics.median(times["IGN paper"])
    rows = []
    for key in steps:
        median = statistics.median(times[key])
        grad = f"{max_gradient_difference(key.split()[1]):.1e}" if key.startswith("IGN") else "-"
        rows.append([key, f"{sizes[key]:,}", f"{1000 * median:.0f}", f"{paper / median:.2f}", grad])
    headers = ["variant", "parameters", "step ms (median)", "speed vs paper form", "max grad diff vs paper (float64)"]
    print_table(headers, rows)
    caption = (f"width {args.width}, batch {args.batch_size}, torch threads = {args.threads}, median of "
               f"{args.repeats} interleaved steps (`python -m bench.ign_forms`)")
    if args.write_readme:
        write_block(MARKER, f"{caption}\n\n{markdown_table(headers, rows)}")


if __name__ == "__main__":
    main()
