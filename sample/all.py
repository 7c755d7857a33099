"""One PNG per shipped checkpoint: python sample/all.py --out samples

A grid of samples for image models; for autoencoders (VQ-VAE, FSQ) test inputs above their reconstructions;
for 1-D densities the fitted density over the test data, and its CDF.
"""
import argparse
from pathlib import Path

from genzoo import list_pretrained, load_pretrained
from genzoo.data import load_split, pretrained_data_config
from genzoo.models.density.base import Density1D
from genzoo.plotting import plot_pretrained_density
from genzoo.sampling import save_sample_grid

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="samples")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args()
    names = list_pretrained()
    if not names:
        print("no shipped checkpoints in checkpoints/ yet")
    for name in names:
        model = load_pretrained(name)
        if isinstance(model, Density1D):
            print(f"wrote {plot_pretrained_density(model, Path(args.out) / f'{name}.png', name, args.data_root)}")
            continue
        reference = None
        if model.needs_reference:
            test = load_split(pretrained_data_config(model, args.data_root), "test")
            reference = test.to_float(test.images()[: args.n])
        path = save_sample_grid(model, Path(args.out) / f"{name}.png", n=args.n, seed=args.seed, reference=reference)
        print(f"wrote {path}")
