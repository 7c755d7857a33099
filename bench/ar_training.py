"""Training throughput of the autoregressive models and the share of a step spent loading data.

    python bench/ar_training.py [--steps 20] [--batch-size 100]

A step = next batch from the in-memory loader + forward + backward + AdamW update, as in genzoo.training.
Data loading is timed on its own (the batch slice and its conversion to float), so its share of the step is
the overhead the loader adds. Uses static binarized MNIST where found, else random binary images.
"""
from __future__ import annotations

import argparse
import time

import torch

from bench.common import print_table
from genzoo import create_model
from genzoo.data import BinarizedMNISTData, DataNotFoundError, ImageSplit, TensorBatchLoader
from genzoo.models.autoregressive.nade import nade_logits_cumsum

MODELS = [("fvsbn", {}), ("nade", {}), ("nade", {"form": "blocked"}), ("nade (cumsum form)", {}), ("made", {}),
          ("made", {"num_masks": 32, "order": "random"})]


def build(name: str, overrides: dict):
    """The model; "nade (cumsum form)" is NADE with eq. 4-5 written directly, the naive way its two passes beat."""
    if name == "nade (cumsum form)":
        model = create_model("nade", **overrides)
        model.conditional_logits = lambda x, mask=0: nade_logits_cumsum(x, model.W, model.c, model.V, model.b)
        return model
    return create_model(name, **overrides)


def train_split() -> tuple[ImageSplit, str]:
    try:
        return BinarizedMNISTData().load("train"), "static binarized MNIST"
    except DataNotFoundError:
        return ImageSplit((torch.rand(50000, 1, 28, 28) < 0.13).to(torch.uint8), scale=1.0), "random binary images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    split, source = train_split()
    rows = []
    for arch, overrides in MODELS:
        model = build(arch, overrides).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        loader = TensorBatchLoader(split, args.batch_size, seed=0)
        load_s = compute_s = 0.0
        for step in range(args.steps + 2):  # the first two steps warm up and are not counted
            t0 = time.perf_counter()
            batch = next(loader)
            t1 = time.perf_counter()
            loss, _ = model.loss(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            t2 = time.perf_counter()
            if step >= 2:
                load_s, compute_s = load_s + t1 - t0, compute_s + t2 - t1
        total = load_s + compute_s
        name = arch + (f" x{overrides['num_masks']} masks" if "num_masks" in overrides else "") + (
            f" ({overrides['form']} form)" if "form" in overrides else "")
        rows.append([name, f"{model.num_parameters():,}", args.batch_size * args.steps / total,
                     1000 * total / args.steps, 1000 * load_s / args.steps, f"{100 * load_s / total:.2f}%"])
    print(f"{source}, batch {args.batch_size}, {args.steps} steps, torch threads = {torch.get_num_threads()}")
    print_table(["model", "parameters", "images/s", "ms/step", "load ms/step", "load share"], rows)


if __name__ == "__main__":
    main()
