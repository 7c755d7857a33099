"""The faster CPU modes against float32 at equal steps: the same model, batches, seed and schedule, trained in
each mode, then scored on valid in float32.

    python -m bench.ar_bf16 [--configs pixelcnn_binmnist ...] [--steps 200] [--valid 1000] [--write-readme]

For each config (default: the PixelCNN, the Gated PixelCNN and the Transformer of binarized MNIST, at their
full size and batch) and each mode of ``bench.cpu_throughput`` (``fp32``; ``bf16``: autocast, what
``train.mixed_precision: bf16`` does; ``bf16+cl``: with ``train.channels_last: true``, convolutional models
only), ``--steps`` AdamW steps at the config's learning rate, with its warm-up and a cosine to 0 over those
steps, on the training split's batches in order; then the NLL of the first ``--valid`` valid images with the
float32 weights in float32. The issue's bar: each mode within 0.3 nats of float32 after equal steps.
"""
from __future__ import annotations

import argparse
import contextlib
import time

import torch

from bench.common import publish
from bench.cpu_throughput import EAGER_MODES, is_convolutional
from genzoo.cli import build_run
from genzoo.config import load_yaml_config
from genzoo.training import to_channels_last, warmup_cosine

CONFIGS = ["pixelcnn_binmnist", "gated_pixelcnn_binmnist", "transformer_binmnist"]


def train_and_score(name: str, mode: str, steps: int, valid: int) -> tuple[float, float]:
    """(valid NLL of the first ``valid`` images, seconds per step) after ``steps`` steps in ``mode``."""
    torch.manual_seed(0)
    model, dataset, config = build_run(load_yaml_config(f"configs/{name}.yaml"))
    train_split, valid_split = dataset.load("train", seed=0), dataset.load("valid", seed=0)
    if mode == "bf16+cl":
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=config.adam_betas)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(min(config.warmup_steps, steps // 4),
                                                                          steps, 0.0))
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if mode != "fp32" else contextlib.nullcontext
    model.train()
    start = time.perf_counter()
    for step in range(steps):
        batch = train_split.batch(slice(step * config.batch_size, (step + 1) * config.batch_size))
        with autocast():
            loss, _ = model.loss(to_channels_last(batch) if mode == "bf16+cl" else batch)
        optimizer.zero_grad(set_to_none=True)
        loss.float().backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        schedule.step()
    seconds = (time.perf_counter() - start) / steps
    model.eval()
    with torch.no_grad():
        nll = -model.log_prob(valid_split.batch(slice(0, valid))).double().mean().item()
    return nll, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=CONFIGS)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--valid", type=int, default=1000, help="valid images scored (the first ones)")
    parser.add_argument("--write-readme", action="store_true", help="also write the table into its page")
    args = parser.parse_args()
    rows = []
    for name in args.configs:
        base = None
        for mode in EAGER_MODES:
            if mode == "bf16+cl" and not is_convolutional(build_run(load_yaml_config(f"configs/{name}.yaml"))[0]):
                continue
            nll, seconds = train_and_score(name, mode, args.steps, args.valid)
            base = base or (nll, seconds)
            rows.append([name, mode, f"{seconds * 1000:.0f}", f"{base[1] / seconds:.2f}x", f"{nll:.2f}",
                         "-" if mode == "fp32" else f"{nll - base[0]:+.3f} nats"])
            print(" | ".join(rows[-1]), flush=True)
    caption = (f"{args.steps} training steps of each config at its batch and learning rate in each CPU mode, "
               f"NLL of the first {args.valid} valid images in float32, torch threads = {torch.get_num_threads()} "
               "(`python -m bench.ar_bf16`)")
    publish(caption, ["config", "mode", "ms per step", "x fp32", "valid NLL", "vs fp32"], rows, "ar-bf16",
            args.write_readme)


if __name__ == "__main__":
    main()
