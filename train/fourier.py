"""Fit a 1-D density: python train/fourier.py --config configs/fourier_gmm10.yaml [section.key=value ...]

A named target (data.target: gmm10, laplace, student_t3, lognormal, beta, spike_bump) or your own numbers:
    python train/fourier.py --config configs/fourier_gmm10.yaml data.target=file data.path=values.npy
(a .npy array or the first column of a .csv; split 80/10/10 into train/valid/test).
"""
from genzoo.cli import main

if __name__ == "__main__":
    main(description=__doc__)
