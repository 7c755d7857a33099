"""One sample grid per shipped checkpoint: python sample/all.py --out samples"""
import argparse
from pathlib import Path

from genzoo import list_pretrained, load_pretrained
from genzoo.sampling import save_sample_grid

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="samples")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    names = list_pretrained()
    if not names:
        print("no shipped checkpoints in checkpoints/ yet")
    for name in names:
        path = save_sample_grid(load_pretrained(name), Path(args.out) / f"{name}.png", n=args.n, seed=args.seed)
        print(f"wrote {path}")
