"""The faster CPU modes against float32 at equal steps: the same model, batches, seed and schedule, trained in
each mode, then scored on valid in float32.

    python -m bench.ar_bf16 [--configs pixelcnn_binmnist ...] [--steps 200] [--valid 1000] [--write-readme]
                            [--seeds 0 1] [--modes fp32 bf16] [--set model.channels=64 train.batch_size=64 ...]
                            [--marker ar-bf16-seeds]

For each config (default: the PixelCNN, the Gated PixelCNN and the Transformer of binarized MNIST, at their
full size and batch) and each mode of ``bench.cpu_throughput`` (``fp32``; ``bf16``: autocast, what
``train.mixed_precision: bf16`` does; ``bf16+cl``: with ``train.channels_last: true``, convolutional models
only), ``--steps`` AdamW steps at the config's learning rate, with its warm-up and a cosine to 0 over those
steps, on the training loop's shuffled batches (``TensorBatchLoader``, data seed 0); then the NLL of the first
``--valid`` valid images with the float32 weights in float32. The issue's bar: each mode within 0.3 nats of
float32 after equal steps.

One seed cannot resolve 0.3 nats early in training (float32 alone moves more between seeds or thread counts), so
``--seeds`` repeats every mode from each initialization seed (the batches stay the same: the data seed is fixed)
and the table closes with each mode's mean difference from float32 beside the spread of float32 between seeds;
``--set`` overrides config keys as the training scripts do (a smaller model, to afford more steps).
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch

from bench.common import publish
from bench.cpu_throughput import EAGER_MODES, is_convolutional
from genzoo.cli import build_run
from genzoo.config import load_yaml_config
from genzoo.data.loader import TensorBatchLoader
from genzoo.training import to_channels_last, warmup_cosine

CONFIGS = ["pixelcnn_binmnist", "gated_pixelcnn_binmnist", "transformer_binmnist"]


def train_and_score(name: str, mode: str, steps: int, valid: int, seed: int = 0,
                    overrides: list[str] = ()) -> tuple[float, float]:
    """(valid NLL of the first ``valid`` images, seconds per step) after ``steps`` steps in ``mode`` from the
    initialization drawn with ``seed``."""
    model, dataset, config = build_run(load_yaml_config(f"configs/{name}.yaml", [*overrides, f"train.seed={seed}"]))
    train_split, valid_split = dataset.load("train", seed=0), dataset.load("valid", seed=0)
    if mode == "bf16+cl":
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=config.adam_betas)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(min(config.warmup_steps, steps // 4),
                                                                          steps, 0.0))
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if mode != "fp32" else contextlib.nullcontext
    model.train()
    start = time.perf_counter()
    for _, batch in zip(range(steps), TensorBatchLoader(train_split, config.batch_size, seed=0)):
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


def mode_rows(name: str, modes: list[str], seeds: list[int], steps: int, valid: int,
              overrides: list[str]) -> list[list[str]]:
    """One row per (seed, mode) of ``name``, each against float32 from the same seed; with several seeds two
    closing rows: float32's spread over the seeds and each mode's mean difference from float32."""
    model = build_run(load_yaml_config(f"configs/{name}.yaml", overrides))[0]
    modes = [m for m in modes if m != "bf16+cl" or is_convolutional(model)]
    nll = {}
    rows = []
    for seed in seeds:
        for mode in modes:
            nll[seed, mode], seconds = train_and_score(name, mode, steps, valid, seed, overrides)
            base_nll = nll.get((seed, "fp32"))
            rows.append([name, str(seed), mode, seconds, f"{nll[seed, mode]:.2f}",
                         "-" if base_nll is None or mode == "fp32" else f"{nll[seed, mode] - base_nll:+.3f} nats"])
            print(" | ".join(map(str, rows[-1])), flush=True)
    fp32_seconds = {row[1]: row[3] for row in rows if row[2] == "fp32"}
    for row in rows:
        speed = fp32_seconds.get(row[1])
        row[3:4] = [f"{row[3] * 1000:.0f}", f"{speed / row[3]:.2f}x" if speed else "-"]
    if len(seeds) > 1 and "fp32" in modes:
        fp32 = [nll[seed, "fp32"] for seed in seeds]
        rows.append([name, "all", "fp32", "", "", f"{statistics.fmean(fp32):.2f}",
                     f"seed spread {max(fp32) - min(fp32):.3f} nats"])
        for mode in modes[1:]:
            deltas = [nll[seed, mode] - nll[seed, "fp32"] for seed in seeds]
            rows.append([name, "all", mode, "", "", f"{statistics.fmean(nll[s, mode] for s in seeds):.2f}",
                         f"mean {statistics.fmean(deltas):+.3f} nats ({min(deltas):+.3f} .. {max(deltas):+.3f})"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=CONFIGS)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--valid", type=int, default=1000, help="valid images scored (the first ones)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="initialization seeds")
    parser.add_argument("--modes", nargs="+", choices=EAGER_MODES, default=list(EAGER_MODES))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    parser.add_argument("--write-readme", action="store_true", help="also write the table into its page")
    parser.add_argument("--marker", default="ar-bf16", help="the docs block written (ar-bf16-seeds: the seeds' table)")
    args = parser.parse_args()
    if "fp32" not in args.modes:
        parser.error("--modes must include fp32, the reference every other mode is compared with")
    modes = ["fp32"] + [m for m in args.modes if m != "fp32"]
    rows = [row for name in args.configs for row in mode_rows(name, modes, args.seeds, args.steps, args.valid,
                                                              args.set)]
    settings = f", with {' '.join(args.set)}" if args.set else ""
    caption = (f"{args.steps} training steps of each config at its batch and learning rate in each CPU mode{settings}, "
               f"from initialization seed(s) {', '.join(map(str, args.seeds))}, "
               f"NLL of the first {args.valid} valid images in float32, torch threads = {torch.get_num_threads()} "
               "(`python -m bench.ar_bf16`)")
    publish(caption, ["config", "seed", "mode", "ms per step", "x fp32", "valid NLL", "vs fp32"], rows, args.marker,
            args.write_readme)


if __name__ == "__main__":
    main()
