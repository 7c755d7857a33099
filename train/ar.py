"""Train an autoregressive model: python train/ar.py --config configs/made_binmnist.yaml [section.key=value ...]

Also runs as `accelerate launch train/ar.py ...` (several processes, --mixed_precision bf16|fp16).
"""
from genzoo.cli import main

if __name__ == "__main__":
    main(description=__doc__)
