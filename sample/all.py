"""One grid per shipped checkpoint: python sample/all.py --out samples

Samples for generative models; for autoencoders (VQ-VAE, FSQ) test inputs above their reconstructions.
"""
import argparse
from pathlib import Path

from genzoo import list_pretrained, load_pretrained
from genzoo.data import load_split, pretrained_data_config
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
        reference = None
        if model.needs_reference:
            test = load_split(pretrained_data_config(model, args.data_root), "test")
            reference = test.to_float(test.images()[: args.n])
        path = save_sample_grid(model, Path(args.out) / f"{name}.png", n=args.n, seed=args.seed, reference=reference)
        print(f"wrote {path}")
