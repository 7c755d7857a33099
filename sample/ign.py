"""Samples of an IGN, and what it does to digits it was never shown:

    python sample/ign.py --model ign-mnist --out samples/ign-mnist.png

writes ``samples/ign-mnist.png`` (one application of f to noise), ``..._twice.png`` (f applied twice to the same
noise) and ``..._projections.png`` (test digits with pixel noise, the lower half masked, inverted, each row above
f of it). The same command as ``python -m genzoo.sample`` (also for ``gan-mnist``: one grid of G(z)).
"""
from genzoo.sample import main

if __name__ == "__main__":
    main()
