"""The training budget of the binarized-MNIST PixelCNNs and Transformer: measured work per image, measured
CPU time per step, and what a long run would take.

    python -m bench.ar_budget [--epochs 457] [--gpu-tflops 50] [--steps 3] [--write-readme]

For each config: its floating-point operations per training image (forward + backward, counted by
torch.utils.flop_counter, attention included), the best of ``--steps`` timed training steps at the config's
batch on this CPU (torch's current thread count) in the config's training mode (``train.mixed_precision``,
``train.channels_last``, as the training loop runs them), and the projection to ``--epochs`` epochs of the 50000
training images (457: pytorch-generative's ``reproduce()``): PFLOP, days of this CPU, and hours of a GPU at an
*assumed* sustained ``--gpu-tflops`` (nothing here measures a GPU). The shipped checkpoint's test NLL and its
training steps (from the file's metadata) say where the CPU runs stand.
"""
from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.common import best_time, publish
from bench.cpu_throughput import config_mode, step_fn
from genzoo import list_pretrained
from genzoo.checkpoint import read_metadata, training_cost
from genzoo.cli import build_run
from genzoo.config import load_yaml_config

CONFIGS = {"pixelcnn-binmnist": "configs/pixelcnn_binmnist.yaml",
           "gated-pixelcnn-binmnist": "configs/gated_pixelcnn_binmnist.yaml",
           "transformer-binmnist": "configs/transformer_binmnist.yaml"}
TRAIN_IMAGES = 50000


def random_batch(batch_size: int) -> torch.Tensor:
    return (torch.rand(batch_size, 1, 28, 28, generator=torch.Generator().manual_seed(0)) < 0.13).float()


def flops_per_image(model: torch.nn.Module) -> float:
    """Forward + backward FLOPs of the training loss for one image (counted on a batch of 2)."""
    with FlopCounterMode(display=False) as counter:
        loss, _ = model.loss(random_batch(2))
        loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / 2


def seconds_per_step(model: torch.nn.Module, train, steps: int) -> float:
    """Best of ``steps`` training steps at the config's batch in its training mode (``bench.cpu_throughput``'s
    step: loss, backward, AdamW), after one warm-up step."""
    step = step_fn(model, random_batch(train.batch_size), config_mode(train))
    step()
    return best_time(step, repeats=steps)


def shipped_state(name: str) -> str:
    """The shipped file's test NLL and training steps (its metadata; a warm-started file's curve counts both
    pieces), or "not shipped"."""
    if name not in list_pretrained():
        return "not shipped"
    metadata = read_metadata(name)
    steps, _ = training_cost(metadata)
    pieces = " over warm-started pieces" if metadata["train_config"].get("init_from") else ""
    after = f" after {steps} steps" if steps is not None else ""
    return f"{metadata['metrics']['test_nll']:.2f}{after}{pieces}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=457)
    parser.add_argument("--gpu-tflops", type=float, default=50.0, help="assumed sustained GPU TFLOP/s")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per model (best of)")
    parser.add_argument("--write-readme", action="store_true", help="also write the table into its page")
    args = parser.parse_args()
    rows = []
    for name, config_path in CONFIGS.items():
        model, _, train = build_run(load_yaml_config(config_path))
        batch_size, mode = train.batch_size, config_mode(train)
        flops, seconds = flops_per_image(model), seconds_per_step(model, train, args.steps)
        total = flops * TRAIN_IMAGES * args.epochs
        cpu_days = seconds * TRAIN_IMAGES / batch_size * args.epochs / 86400
        rows.append([name, f"{model.num_parameters():,}", f"{flops / 1e9:.2f}",
                     f"{seconds:.2f} (batch {batch_size}, {mode})", f"{flops * batch_size / seconds / 1e9:.0f}",
                     f"{total / 1e15:.0f}", f"{cpu_days:.1f}", f"{total / (args.gpu_tflops * 1e12) / 3600:.2f}",
                     shipped_state(name)])
    caption = (f"Budget of {args.epochs} epochs (`python -m bench.ar_budget --epochs {args.epochs} --gpu-tflops "
               f"{args.gpu_tflops:g}`; CPU: {torch.get_num_threads()} thread(s) of this machine, measured; GPU: "
               f"an assumed sustained {args.gpu_tflops:g} TFLOP/s, not measured)")
    publish(caption, ["model", "parameters", "GFLOP per image (fwd+bwd)", "CPU s per step", "CPU GFLOP/s",
                      f"PFLOP, {args.epochs} epochs", "CPU days", "GPU hours (assumed rate)", "shipped: test NLL"],
            rows, "ar-budget", args.write_readme)


if __name__ == "__main__":
    main()
