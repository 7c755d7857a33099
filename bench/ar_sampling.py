"""Incremental vs naive sampling of the autoregressive models, side by side.

    python bench/ar_sampling.py [--n 64] [--repeats 2]

Naive: one full forward pass per pixel (784 passes). Incremental: NADE's a_{d+1} = a_d + W[:, d] x_d, and
MADE/FVSBN's unit-by-degree updates: about one forward pass per image. Both samplers use the same random
numbers, so the same seed must give identical images. Shipped weights are used where present.
"""
from __future__ import annotations

import argparse

import torch

from bench.common import best_time, print_table
from genzoo import create_model, list_pretrained, load_pretrained

MODELS = [("fvsbn", "fvsbn-binmnist", {}), ("nade", "nade-binmnist", {}), ("made", "made-binmnist", {}),
          ("made", "made-ensemble-binmnist", {"num_masks": 32, "order": "random"})]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rows = []
    for arch, shipped, overrides in MODELS:
        model = load_pretrained(shipped) if shipped in list_pretrained() else create_model(arch, **overrides).eval()
        fast = model.sample(args.n, generator=torch.Generator().manual_seed(0))
        slow = model.sample_naive(args.n, generator=torch.Generator().manual_seed(0))
        same = int((fast == slow).flatten(1).all(1).sum())
        t_fast = best_time(lambda: model.sample(args.n, generator=torch.Generator().manual_seed(0)), args.repeats)
        t_slow = best_time(lambda: model.sample_naive(args.n, generator=torch.Generator().manual_seed(0)), 1)
        source = "shipped" if shipped in list_pretrained() else "random init"
        rows.append([shipped, source, f"{same}/{args.n}", t_slow, t_fast, t_slow / t_fast])
    print(f"sampling {args.n} images, torch threads = {torch.get_num_threads()}")
    print_table(["model", "weights", "identical", "naive s", "incremental s", "speed-up"], rows)


if __name__ == "__main__":
    main()
