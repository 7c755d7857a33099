"""Sample any genzoo checkpoint (the one sample command, genzoo.sample):

    python sample/ar.py --model made-binmnist --n 64 --seed 0 --out samples/made.png   # a preview grid
    python sample/ar.py --model fourier1d-gmm10 --out samples/gmm10.png                # a density plot
    accelerate launch sample/ar.py --model nade-binmnist --n 10000 --out samples.npz   # samples, any processes
"""
from genzoo.sample import main

if __name__ == "__main__":
    main()
