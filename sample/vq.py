"""Reconstructions and codebook usage of a VQ-VAE / FSQ autoencoder:

    python sample/vq.py --model vqvae-rotation-mnist --n 64 --out samples/vqvae-rotation-mnist.png

writes a grid of test inputs (odd rows) above their reconstructions (even rows), and beside it
``<out>_usage.png``, a histogram of how often each code is used over the test set. ``--export-codes`` also
writes the test set's 7x7 index grids (the data a prior over codes trains on).
"""
import argparse
from pathlib import Path

from genzoo import load_pretrained
from genzoo.data import load_split, pretrained_data_config
from genzoo.models.vq.codes import encode_split, export_codes
from genzoo.plotting import usage_histogram
from genzoo.sampling import save_sample_grid


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a shipped checkpoint name or a .safetensors path")
    parser.add_argument("--n", type=int, default=64, help="images in the grid (inputs and reconstructions)")
    parser.add_argument("--out", default=None, help="PNG path (default samples/<model>.png)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--export-codes", default=None, help="also write the test set's code grids here")
    args = parser.parse_args(argv)
    model = load_pretrained(args.model).eval()
    test = load_split(pretrained_data_config(model, args.data_root), "test")
    out = Path(args.out or f"samples/{Path(args.model).stem}.png")
    reference = test.to_float(test.images()[: args.n])
    print(f"wrote {save_sample_grid(model, out, n=args.n, reference=reference)}")
    grids = encode_split(model, test)
    print(f"wrote {usage_histogram(grids, model.codebook_size, out.with_name(out.stem + '_usage.png'), out.stem)}")
    if args.export_codes:
        print(f"wrote {export_codes(model, test, args.export_codes, source=str(args.model))}")


if __name__ == "__main__":
    main()
