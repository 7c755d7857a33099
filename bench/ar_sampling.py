"""Fast vs naive sampling of the autoregressive models, side by side.

    python -m bench.ar_sampling [--n 64] [--repeats 2] [--naive-rows 2] [--models NAME ...] [--write-readme]

Naive: one full forward pass per pixel (784 passes). Fast: NADE's a_{d+1} = a_d + W[:, d] x_d (DeepNADE's first
layer likewise, two columns per pixel), MADE/FVSBN's unit-by-degree updates, the PixelCNNs' per-layer caches
(Ramachandran et al. 2017) and the Transformer's key/value cache. Both samplers use the same random numbers,
so the same seed must give identical images.

The grid models' naive sampler costs one full forward per position whatever the position, so it is timed on
its first ``--naive-rows`` rows and scaled to the whole grid (``naive s`` is that estimate; the identical
column then compares those rows). Shipped weights are used where present, else the config's sizes at random
initialization.
"""
from __future__ import annotations

import argparse

import torch

from bench.common import best_time, publish
from genzoo import create_model, list_pretrained, load_pretrained
from genzoo.models.autoregressive.grid import GridAutoregressiveModel

MODELS = [("fvsbn", "fvsbn-binmnist", {}), ("nade", "nade-binmnist", {}), ("made", "made-binmnist", {}),
          ("made", "made-ensemble-binmnist", {"num_masks": 32, "order": "random"}),
          ("deepnade", "deepnade-binmnist", {}),
          ("pixelcnn", "pixelcnn-binmnist", {}), ("gated_pixelcnn", "gated-pixelcnn-binmnist", {}),
          ("transformer", "transformer-binmnist", {})]


def compare(model, n: int, repeats: int, naive_rows: int) -> tuple[str, float, float]:
    """(identical samples, naive seconds, fast seconds) for ``n`` samples from seed 0."""
    seed = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    if isinstance(model, GridAutoregressiveModel):
        fast = lambda: model.sample_tokens(n, seed())  # noqa: E731
        rows = min(naive_rows, model.grid[0])
        same = model.sample_tokens(n, seed(), rows=rows).eq(model.sample_tokens(n, seed(), rows=rows, naive=True))
        t_naive = best_time(lambda: model.sample_tokens(n, seed(), rows=rows, naive=True), 1) * model.grid[0] / rows
        identical = f"{int(same.flatten(1).all(1).sum())}/{n} (rows 1-{rows})"
    else:
        fast = lambda: model.sample(n, generator=seed())  # noqa: E731
        same = fast().eq(model.sample_naive(n, generator=seed()))
        t_naive = best_time(lambda: model.sample_naive(n, generator=seed()), 1)
        identical = f"{int(same.flatten(1).all(1).sum())}/{n}"
    return identical, t_naive, best_time(fast, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--naive-rows", type=int, default=2)
    parser.add_argument("--models", nargs="*", default=None,
                        help="only these rows (checkpoint names); with --write-readme only their rows are replaced")
    parser.add_argument("--write-readme", action="store_true", help="also write the table into its page")
    args = parser.parse_args()
    unknown = set(args.models or ()) - {shipped for _, shipped, _ in MODELS}
    if unknown:
        parser.error(f"--models: no row {', '.join(sorted(unknown))}; rows: {', '.join(s for _, s, _ in MODELS)}")
    rows = []
    for arch, shipped, overrides in MODELS:
        if args.models and shipped not in args.models:
            continue
        found = shipped in list_pretrained()
        model = load_pretrained(shipped) if found else create_model(arch, **overrides).eval()
        identical, t_naive, t_fast = compare(model, args.n, args.repeats, args.naive_rows)
        rows.append([shipped, "shipped" if found else "random init", identical, t_naive, t_fast, t_naive / t_fast])
    caption = (f"Sampling {args.n} images from seed 0, torch threads = {torch.get_num_threads()} "
               f"(`python -m bench.ar_sampling`; grid models' naive time from {args.naive_rows} rows, scaled)")
    publish(caption, ["model", "weights", "identical", "naive s", "fast s", "speed-up"], rows, "ar-sampling",
            args.write_readme, rows_only=bool(args.models))


if __name__ == "__main__":
    main()
