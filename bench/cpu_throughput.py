"""How much of this CPU each config's training step uses, in float32 and in the faster modes, side by side.

    python -m bench.cpu_throughput [--threads 1 2] [--steps 3] [--configs pixelcnn_binmnist ...] [--write-readme]

First the machine's peaks: a 1024 x 1024 matmul and a 64-channel 3x3 convolution on 28 x 28 maps (batch 32),
in float32 and bfloat16, at each thread count. Then every config's training step (the loss on a batch of its
own training data at its batch size, backward, AdamW step) in each mode:

- ``fp32``: float32, as the loop runs with ``train.mixed_precision: no``;
- ``bf16``: ``torch.autocast("cpu", torch.bfloat16)``, what ``train.mixed_precision: bf16`` does (the
  optimizer and the weights stay float32);
- ``bf16+cl``: the same with the weights and image batches in channels_last, what ``train.channels_last:
  true`` adds (convolutional models only).

Each step's FLOPs come from ``torch.utils.flop_counter`` (forward + backward); achieved GFLOP/s is FLOPs over
the best of ``--steps`` timed steps, and "of peak" divides it by the larger of the two peaks of the step's
precision at that thread count. "x fp32" is the step's speed-up over float32 at the same thread count; "loss
vs fp32" the relative difference of the first step's loss (the same weights and batch).
"""
from __future__ import annotations

import argparse
import contextlib
import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from bench.common import best_time, publish
from genzoo.cli import build_run
from genzoo.config import load_yaml_config
from genzoo.training import to_channels_last

CONFIGS = sorted(p.stem for p in Path("configs").glob("*.yaml"))
# bf16+compile: bf16 autocast (with channels_last for convolutional models) around torch.compile(model.loss),
# what train.compile does through Accelerate's inductor backend; the compile itself is left out of the timing
MODES = ("fp32", "bf16", "bf16+cl", "bf16+compile")
EAGER_MODES = MODES[:3]  # the modes the training loop runs without train.compile


def config_mode(train) -> str:
    """The mode of MODES a config's train section trains in (``mixed_precision``, ``channels_last``)."""
    if train.mixed_precision != "bf16":
        return "fp32"
    return "bf16+cl" if train.channels_last else "bf16"


def peak(kind: str, dtype: torch.dtype, repeats: int = 5) -> float:
    """GFLOP/s of the best of ``repeats`` runs of a 1024^2 matmul or a 64-channel 3x3 convolution."""
    g = torch.Generator().manual_seed(0)
    if kind == "matmul":
        a, b = (torch.randn(1024, 1024, generator=g).to(dtype) for _ in range(2))
        flops, fn = 2 * 1024 ** 3, lambda: a @ b
    else:
        x, w = torch.randn(32, 64, 28, 28, generator=g).to(dtype), torch.randn(64, 64, 3, 3, generator=g).to(dtype)
        flops, fn = 2 * 32 * 64 * 28 * 28 * 64 * 9, lambda: F.conv2d(x, w, padding=1)
    fn()
    return flops / best_time(fn, repeats) / 1e9


def is_convolutional(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def step_fn(model, batch, mode: str):
    """One training step (loss, backward, AdamW) of ``model`` on ``batch`` in ``mode``; and its first loss."""
    if mode == "bf16+cl" or mode == "bf16+compile" and is_convolutional(model):
        model, batch = model.to(memory_format=torch.channels_last), to_channels_last(batch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if mode != "fp32" else contextlib.nullcontext
    loss_fn = torch.compile(model.loss) if mode == "bf16+compile" else model.loss

    def step():
        with autocast():
            loss, _ = loss_fn(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.float().backward()
        optimizer.step()
        return loss.detach().float()

    return step


def flops_of(model, batch) -> float:
    with FlopCounterMode(display=False) as counter:
        loss, _ = model.loss(batch)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def measure(name: str, threads: int, steps: int, peaks: dict, modes=MODES) -> list[list]:
    config = load_yaml_config(f"configs/{name}.yaml")
    torch.manual_seed(0)
    model, dataset, train_config = build_run(config)
    batch = dataset.load("train", seed=0).batch(slice(0, train_config.batch_size))  # the loop's first batch
    flops = flops_of(copy.deepcopy(model), batch)
    rows, base = [], {}
    for mode in modes:
        if mode == "bf16+cl" and not is_convolutional(model):
            continue
        step = step_fn(copy.deepcopy(model), batch, mode)
        first_loss = step()  # also the warm-up
        seconds = best_time(step, steps)
        base.setdefault("seconds", seconds)
        base.setdefault("loss", first_loss)
        precision = torch.float32 if mode == "fp32" else torch.bfloat16
        achieved = flops / seconds / 1e9
        rows.append([name, train_config.batch_size, mode, threads, f"{seconds * 1000:.1f}", f"{achieved:.1f}",
                     f"{achieved / max(peaks[(kind, precision, threads)] for kind in ('matmul', 'conv')):.1%}",
                     f"{base['seconds'] / seconds:.2f}x",
                     f"{float((first_loss - base['loss']).abs() / base['loss'].abs()):.1e}"])
        print(" | ".join(map(str, rows[-1])), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per config and mode (best of)")
    parser.add_argument("--configs", nargs="+", default=CONFIGS, help="config names in configs/ (default: all)")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES,
                        help="the first is the base of the 'x' column (default: all)")
    parser.add_argument("--write-readme", action="store_true", help="also write the tables into their page")
    args = parser.parse_args()
    peaks, peak_rows = {}, []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for kind in ("matmul", "conv"):
            for dtype in (torch.float32, torch.bfloat16):
                peaks[(kind, dtype, threads)] = peak(kind, dtype)
            fp32, bf16 = peaks[(kind, torch.float32, threads)], peaks[(kind, torch.bfloat16, threads)]
            peak_rows.append([kind, threads, f"{fp32:.1f}", f"{bf16:.1f}", f"{bf16 / fp32:.2f}x"])
    publish("Peaks of this CPU: a 1024 x 1024 matmul, a 64-channel 3x3 convolution on 28 x 28 maps, batch 32 "
            "(`python -m bench.cpu_throughput`)", ["kernel", "threads", "float32 GFLOP/s", "bfloat16 GFLOP/s",
                                                    "bf16 / fp32"], peak_rows, "cpu-peaks", args.write_readme)
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name in args.configs:
            rows += measure(name, threads, args.steps, peaks, args.modes)
    publish(f"Training step of each config (its batch, loss + backward + AdamW), best of {args.steps}, FLOPs "
            "from torch.utils.flop_counter (`python -m bench.cpu_throughput`)",
            ["config", "batch", "mode", "threads", "ms per step", "GFLOP/s", "of peak", f"x {args.modes[0]}",
             f"loss vs {args.modes[0]}"],
            rows, "cpu-throughput", args.write_readme)


if __name__ == "__main__":
    main()
