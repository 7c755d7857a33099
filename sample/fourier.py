"""Plot a fitted 1-D density: python sample/fourier.py --model fourier1d-gmm10 [--out samples/x.png] [--npy s.npy]

Left: the model's density over a histogram of the test data (and the true density for named targets); right:
its CDF. ``--npy`` also saves ``--n`` exact samples drawn from the model.
"""
import argparse
from pathlib import Path

import numpy as np
import torch

from genzoo import load_pretrained
from genzoo.plotting import plot_pretrained_density


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a shipped checkpoint name or a .safetensors path")
    parser.add_argument("--out", default=None, help="PNG path (default samples/<model>.png)")
    parser.add_argument("--npy", default=None, help="also save --n samples to this .npy file")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args(argv)
    model = load_pretrained(args.model).eval()
    out = Path(args.out or f"samples/{Path(args.model).stem}.png")
    print(f"wrote {plot_pretrained_density(model, out, Path(args.model).stem, args.data_root)}")
    if args.npy:
        samples = model.sample(args.n, generator=torch.Generator().manual_seed(args.seed))
        np.save(args.npy, samples.double().numpy()[:, 0])
        print(f"wrote {args.npy}")


if __name__ == "__main__":
    main()
