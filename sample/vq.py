"""Reconstructions and codebook usage of a VQ-VAE / FSQ autoencoder:

    python sample/vq.py --model vqvae-rotation-mnist --n 64 --out samples/vqvae-rotation-mnist.png

writes the model's preview (test inputs in odd rows above their reconstructions in even rows) and beside it
``<out>_usage.png``, a histogram of how often each code is used over the test set. ``--export-codes`` also
writes the test set's index grids (the data a prior over codes trains on; ``data: {name: code_grids}`` makes
them for training).
"""
import argparse
from pathlib import Path

from genzoo import load_pretrained
from genzoo.data import pretrained_dataset
from genzoo.data.code_grids import encode_split, export_codes
from genzoo.plotting import usage_histogram
from genzoo.sample import write_preview


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a shipped checkpoint name or a .safetensors path")
    parser.add_argument("--n", type=int, default=64, help="images in the grid (inputs and reconstructions)")
    parser.add_argument("--out", default=None, help="PNG path (default samples/<model>.png)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--export-codes", default=None, help="also write the test set's code grids here")
    args = parser.parse_args(argv)
    model = load_pretrained(args.model)
    if not hasattr(model, "encode") or not hasattr(model, "codebook_size"):
        parser.error(f"{args.model} is a {model.architecture!r}, not an autoencoder with codes "
                     "(use genzoo.sample for its preview)")
    out = Path(args.out or f"samples/{Path(args.model).stem}.png")
    print(f"wrote {write_preview(model, out, args.n, 0, args.data_root)}")
    test = pretrained_dataset(model, args.data_root).load("test")
    grids = encode_split(model, test)
    print(f"wrote {usage_histogram(grids, model.codebook_size, out.with_name(out.stem + '_usage.png'), out.stem)}")
    if args.export_codes:
        print(f"wrote {export_codes(model, test, args.export_codes, source=str(args.model))}")


if __name__ == "__main__":
    main()
