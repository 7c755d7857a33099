"""Straight-through vs rotation trick vs FSQ: the same autoencoder and training steps on MNIST, codebook sizes
256 and 1024, test-set reconstruction and codebook use in one table.

    python -m bench.vq_estimators [--steps 3000] [--write-readme]

Each of the 6 runs uses its config in configs/ (vqvae_ste_mnist, vqvae_rotation_mnist, fsq_mnist) with only
the codebook size changed (FSQ: the paper's presets [8, 6, 5] = 240 and [8, 5, 5, 5] = 1000 codes), in
runs/vq-estimators/<variant>-<size>; a finished run is reused, a killed one resumes. Test metrics are then
recomputed from each run's exported weights. Quantization error is ||sg(e) - q||^2 per latent vector; for FSQ it
is measured between the bounded latent and its grid point (in units of the grid's [-1, 1] range), so it is not on
the same scale as the VQ rows.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from accelerate import Accelerator

from genzoo.checkpoint import load_pretrained, read_metadata
from genzoo.cli import build_run
from genzoo.config import load_yaml_config
from genzoo.data import Splits, pretrained_dataset
from genzoo.doc_tables import write_block
from genzoo.evaluation import evaluate
from genzoo.training import train

VARIANTS = {"straight-through": "configs/vqvae_ste_mnist.yaml", "rotation trick": "configs/vqvae_rotation_mnist.yaml",
            "FSQ": "configs/fsq_mnist.yaml"}
SIZES = (256, 1024)
MARKER = "vq-estimators"  # the table lies between this marker's lines in README.md or a docs/ page


def run(config_path: str, size: int, steps: int, root: Path) -> Path:
    """Train (or reuse, or resume) one variant; returns its exported weights."""
    out = root / f"{Path(config_path).stem}-{size}"
    exported = out / "model.safetensors"
    if exported.is_file() and read_metadata(exported)["train_config"].get("max_steps") == steps:
        return exported
    config = load_yaml_config(config_path, [f"model.codebook_size={size}", f"train.output_dir={out}",
                                            f"train.max_steps={steps}"])
    model, dataset, train_config = build_run(config)
    resume = "latest" if any((out / "checkpoints").glob("step_*")) else None
    return train(model, Splits(dataset, seed=train_config.seed), train_config, resume=resume, run_config=config)["path"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--root", default="runs/vq-estimators")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    rows = []
    for label, config_path in VARIANTS.items():
        for size in SIZES:
            model = load_pretrained(run(config_path, size, args.steps, Path(args.root)))
            test = evaluate(model, pretrained_dataset(model).load("test"), Accelerator(cpu=True))
            rows.append([label, model.codebook_size, test])
    lines = [f"MNIST test set, {args.steps} steps of batch 128, same encoder/decoder (`python -m bench.vq_estimators`)",
             "", "| quantizer | codes | test MSE | PSNR (dB) | codes used | perplexity | quantization error |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for label, codes, t in rows:
        lines.append(f"| {label} | {codes} | {t['mse']:.5f} | {t['psnr']:.2f} | {t['usage']:.1%} | "
                     f"{t['perplexity']:.1f} | {t['quant_error']:.4f} |")
    table = "\n".join(lines)
    print(table)
    if args.write_readme:
        write_block(MARKER, table)


if __name__ == "__main__":
    main()
