"""Train a VQ-VAE or FSQ autoencoder: python train/vq.py --config configs/vqvae_rotation_mnist.yaml [section.key=value ...]

Also runs as `accelerate launch train/vq.py ...` (several processes or GPUs, --mixed_precision bf16|fp16); the
codebook statistics are all-reduced, so every process keeps the same codebook.
"""
from genzoo.cli import main

if __name__ == "__main__":
    main(description=__doc__)
