"""bf16 autocast training on the CPU against float32, same model, data, seed and steps.

    python -m bench.ar_bf16 [--config configs/pixelcnn_binmnist.yaml] [--steps 300] [--write-readme] [overrides]

Both runs go through the one training loop (train.mixed_precision = no | bf16, on the CPU) into a temporary
folder; the table gives each run's valid NLL (nats, the weights after the last step, no EMA) and its training
time. The issue's bar: bf16 within 0.5 nats of float32. On a CPU without native bf16 arithmetic the bf16 run is
slower: autocast is checked for correctness here, not for speed.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.common import publish, short_run

SMALL = ["model.channels=32", "model.blocks=4", "model.output_channels=32", "train.warmup_steps=50"]


def run(config: str, precision: str, steps: int, folder: Path, overrides: list[str]) -> tuple[float, float]:
    """(valid NLL, seconds) of one run."""
    setting = f'train.mixed_precision="{precision}"'  # quoted: YAML reads a bare no as false
    metrics, seconds = short_run(config, [*overrides, setting], steps, folder / precision)
    return metrics["valid_nll"], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/pixelcnn_binmnist.yaml")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--write-readme", action="store_true", help="also write the table into its page")
    parser.add_argument("overrides", nargs="*", help=f"config overrides (default: {' '.join(SMALL)})")
    args = parser.parse_args()
    overrides = args.overrides or SMALL
    with tempfile.TemporaryDirectory() as tmp:
        results = {p: run(args.config, p, args.steps, Path(tmp), overrides) for p in ("no", "bf16")}
    (nll32, s32), (nll16, s16) = results["no"], results["bf16"]
    caption = (f"`{args.config}` with {' '.join(overrides)}, {args.steps} steps, CPU, valid NLL of the last weights "
               "(`python -m bench.ar_bf16`)")
    publish(caption, ["precision", "valid NLL", "seconds", "difference"],
            [["float32", nll32, s32, "-"], ["bf16 autocast", nll16, s16, f"{nll16 - nll32:+.3f} nats"]], "ar-bf16",
            args.write_readme)


if __name__ == "__main__":
    main()
