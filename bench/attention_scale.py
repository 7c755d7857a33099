"""The Transformer's attention scale: Su's entropy-invariant log_512(n)/sqrt(d) against 1/sqrt(d).

    python -m bench.attention_scale [--steps 600] [--write-readme] [model.dim=32 ...]

Two runs of configs/transformer_binmnist.yaml (a small Transformer by default, so it fits a CPU), the same
seed, data and steps, differing only in ``model.attention_scale``; the table gives the valid NLL (nats) of the
last weights and the time. With n the number of keys a query sees (1..784 here), the entropy-invariant scale
multiplies the queries by log_512(n): below 1 for the first 511 positions, up to 1.07 at the last.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.common import publish, short_run

CONFIG = "configs/transformer_binmnist.yaml"
SMALL = ["model.dim=32", "model.layers=2", "model.heads=2", "train.batch_size=32", "train.warmup_steps=100",
         "train.lr=2e-3"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--write-readme", action="store_true", help="also write the table into its page")
    parser.add_argument("overrides", nargs="*", help=f"config overrides (default: {' '.join(SMALL)})")
    args = parser.parse_args()
    overrides = args.overrides or SMALL
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scale in ("standard", "entropy"):
            metrics, seconds = short_run(CONFIG, [*overrides, f"model.attention_scale={scale}"], args.steps,
                                         Path(tmp) / scale)
            rows.append([scale, metrics["valid_nll"], seconds])
    rows[1].append(f"{rows[1][1] - rows[0][1]:+.3f} nats")
    rows[0].append("-")
    caption = (f"`{CONFIG}` with {' '.join(overrides)}, {args.steps} steps, CPU, valid NLL of the last weights "
               "(`python -m bench.attention_scale`)")
    publish(caption, ["attention scale", "valid NLL", "seconds", "difference"], rows, "attention-scale",
            args.write_readme)


if __name__ == "__main__":
    main()
