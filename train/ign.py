"""Train an IGN, the same-size GAN or the metrics' classifier:

    python train/ign.py --config configs/ign_mnist.yaml [section.key=value ...]
    python train/ign.py --config configs/gan_mnist.yaml model.loss=non_saturating
    python train/ign.py --config configs/mnist_classifier.yaml

Also runs as `accelerate launch train/ign.py ...` (several processes or GPUs, --mixed_precision bf16|fp16).
"""
from genzoo.cli import main

if __name__ == "__main__":
    main(description=__doc__)
