"""One preview PNG per shipped checkpoint: python sample/all.py --out samples

The same as `python -m genzoo.sample --all --out samples`: each family's preview (a grid of samples for image
models, test inputs above their reconstructions for autoencoders, the fitted density for 1-D densities).
"""
import sys

from genzoo.sample import main

if __name__ == "__main__":
    main(["--all", *sys.argv[1:]])
