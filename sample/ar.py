"""Sample an autoregressive model: python sample/ar.py --model made-binmnist --n 64 --seed 0 --out samples/made.png"""
from genzoo.cli import sample_main

if __name__ == "__main__":
    sample_main(description=__doc__)
