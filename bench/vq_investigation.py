"""Why the rotation trick reconstructs worse than straight-through here, and how much of FSQ's codebook is used.

    python -m bench.vq_investigation [--steps 3000 20000] [--seeds 0 1] [--peer] [--fsq] [--finished-only]
        [--only NAME ...] [--write-readme]

Every run is configs/vqvae_{ste,rotation}_mnist.yaml (1024 codes) with only the named settings changed,
trained by the one training loop into runs/vq-investigation/<name> (a finished run is reused, a killed one
resumes); its test metrics are those the loop measured on the test split at the end (stored in its export):
- the codebook by EMA (decay 0.99, the shipped setting) or by its loss (``model.ema_decay=0``, Fifty et al.'s
  setting), for each estimator, each ``--steps`` and each ``--seeds``;
- with ``--peer``: vector-quantize-pytorch's ``VectorQuantize`` (the ``bench`` extra) in place of genzoo's
  quantizer in the same VQ-VAE and loop, rotation trick on and off, with the same codebook size, EMA decay,
  commitment weight and k-means initialization (seed 0, the first ``--steps``).
With ``--fsq``: configs/fsq_mnist.yaml trained for each ``--steps`` (first seed, runs/vq-investigation/
fsq-<steps>-seed<seed>); the shortest run's code usage on the train and test splits, per-level usage of each
channel and a grid of the codes it never uses (decoded) in runs/vq-investigation/fsq-unused.png; and every run's
usage on both splits. (The 3000-step run is the file ``fsq-mnist`` shipped before issue 16; it now ships the
10000-step run.)
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

from bench.fsq_usage import fsq_usage_report, split_counts
from genzoo import load_pretrained
from genzoo.checkpoint import read_metadata
from genzoo.cli import build_run
from genzoo.config import load_yaml_config
from genzoo.data import Splits
from genzoo.doc_tables import write_block
from genzoo.quantizers.base import code_statistics
from genzoo.training import train

CONFIGS = {"ste": "configs/vqvae_ste_mnist.yaml", "rotation": "configs/vqvae_rotation_mnist.yaml"}
FSQ_CONFIG = "configs/fsq_mnist.yaml"
CODEBOOK = {"EMA 0.99": ["model.ema_decay=0.99"], "loss": ["model.ema_decay=0"]}
MARKER = "vq-investigation"  # the table lies between this marker's lines in README.md or a docs/ page


class PeerVectorQuantizer(nn.Module):
    """vector-quantize-pytorch's ``VectorQuantize`` behind the interface a genzoo VQ-VAE calls."""

    def __init__(self, dim: int, codebook_size: int, rotation_trick: bool, decay: float, beta: float):
        super().__init__()
        from vector_quantize_pytorch import VectorQuantize

        self.vq = VectorQuantize(dim=dim, codebook_size=codebook_size, decay=decay, commitment_weight=beta,
                                 kmeans_init=True, rotation_trick=rotation_trick, threshold_ema_dead_code=0)
        self.dim, self.codebook_size, self.rotation_trick = dim, codebook_size, rotation_trick

    def forward(self, z: torch.Tensor):
        B, H, W, d = z.shape  # channels last, as genzoo's quantizers take them
        q, indices, commitment = self.vq(z.reshape(B, H * W, d))
        stats = code_statistics(indices, self.codebook_size)
        quant_error = (z.detach().reshape(-1, d) - self.lookup(indices).reshape(-1, d)).pow(2).sum(-1).mean()
        info = {"loss": commitment.sum(), "commitment": commitment.detach().sum(), "quant_error": quant_error,
                "codebook": torch.zeros((), device=z.device), **{k: stats[k] for k in ("perplexity", "usage")}}
        return q.reshape(z.shape), indices.reshape(B, H, W), info

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        return self.vq.get_codes_from_indices(indices)  # (..., d)

    def _prepare(self, e: torch.Tensor) -> torch.Tensor:
        return e  # Euclidean codebook: the latents as they are

    def describe(self) -> str:
        return f"vector-quantize-pytorch, {'rotation trick' if self.rotation_trick else 'straight-through'}"


def run(name: str, config_path: str, overrides: list[str], steps: int, root: Path, peer_rotation=None,
        train_missing: bool = True) -> dict | None:
    """Train (or reuse, or resume) one variant; returns its test metrics as the loop measured them (None for a
    run not finished when ``train_missing`` is off)."""
    out = root / name
    exported = out / "model.safetensors"
    if exported.is_file() and read_metadata(exported)["train_config"].get("max_steps") == steps:
        return read_metadata(exported)["metrics"]
    if not train_missing:
        return None
    config = load_yaml_config(config_path, [*overrides, f"train.output_dir={out}", f"train.max_steps={steps}"])
    model, dataset, train_config = build_run(config)
    if peer_rotation is not None:
        c = model.config
        model.quantizer = PeerVectorQuantizer(c.code_dim, c.codebook_size, peer_rotation, c.ema_decay, c.beta)
    resume = "latest" if any((out / "checkpoints").glob("step_*")) else None
    return train(model, Splits(dataset, seed=train_config.seed), train_config, resume=resume,
                 run_config=config)["metrics"]


def trainer(train_missing: bool, only: list[str] | None):
    """Whether the run named ``name`` may be trained: with ``only``, the runs not named there are tabulated
    when finished, never trained (so one core can train one long run while the table shows every finished
    one)."""
    return lambda name: train_missing and (only is None or name in only)


def investigation_rows(steps_list: list[int], seeds: list[int], peer: bool, root: Path, trains) -> list[list]:
    """One row per variant: each estimator and codebook update, each steps and seed; the peer's at the first."""
    rows = []
    for steps in steps_list:
        for codebook, codebook_overrides in CODEBOOK.items():
            for estimator, config_path in CONFIGS.items():
                for seed in seeds:
                    name = f"genzoo-{estimator}-{codebook.split()[0].lower()}-{steps}-seed{seed}"
                    m = run(name, config_path, [*codebook_overrides, f"train.seed={seed}"], steps, root,
                            train_missing=trains(name))
                    rows.append(["genzoo", estimator, codebook, steps, seed, m])
    if peer:
        for estimator, config_path in CONFIGS.items():
            name = f"peer-{estimator}-ema-{steps_list[0]}-seed{seeds[0]}"
            m = run(name, config_path, ["model.ema_decay=0.99", f"train.seed={seeds[0]}"], steps_list[0], root,
                    peer_rotation=estimator == "rotation", train_missing=trains(name))
            rows.append(["vector-quantize-pytorch", estimator, "EMA 0.99", steps_list[0], seeds[0], m])
    return [row for row in rows if row[-1] is not None]


def fsq_runs(steps_list: list[int], seed: int, root: Path, trains) -> list[tuple[int, Path, dict]]:
    """(steps, export path, test metrics) of configs/fsq_mnist.yaml trained for each number of steps (those
    finished or trained now)."""
    runs = []
    for steps in steps_list:
        name = f"fsq-{steps}-seed{seed}"
        metrics = run(name, FSQ_CONFIG, [f"train.seed={seed}"], steps, root, train_missing=trains(name))
        if metrics is not None:
            runs.append((steps, root / name / "model.safetensors", metrics))
    return runs


def fsq_usage_by_steps(runs: list[tuple[int, Path, dict]], seed: int) -> str:
    """FSQ code usage on train and test after each number of steps."""
    lines = ["`configs/fsq_mnist.yaml` (FSQ [8, 5, 5, 5], 1000 codes) trained for longer: codes used "
             f"(seed {seed}; `python -m bench.vq_investigation --fsq --steps ...`)", "",
             "| steps | test MSE | used on train | used on test | train or test |", "|---:|---:|---:|---:|---:|"]
    for steps, path, metrics in runs:
        counts = split_counts(load_pretrained(path))
        used = {split: (c > 0).float().mean() for split, c in counts.items()}
        either = ((counts["train"] + counts["test"]) > 0).float().mean()
        lines.append(f"| {steps} | {metrics['test_mse']:.5f} | {used['train']:.1%} | {used['test']:.1%} | "
                     f"{either:.1%} |")
    return "\n".join(lines)


def investigation_table(rows: list[list]) -> str:
    lines = ["MNIST test set, 1024 codes, batch 128, the shipped VQ-VAE and loop; only the quantizer's codebook "
             "update, estimator, steps and seed vary (`python -m bench.vq_investigation`)", "",
             "| quantizer code | estimator | codebook by | steps | seed | test MSE | codes used | perplexity | "
             "quantization error | valid MSE |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for impl, estimator, codebook, steps, seed, m in rows:
        lines.append(f"| {impl} | {estimator} | {codebook} | {steps} | {seed} | {m['test_mse']:.5f} | "
                     f"{m['test_usage']:.1%} | {m['test_perplexity']:.1f} | {m['test_quant_error']:.4f} | "
                     f"{m['valid_mse']:.5f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, nargs="+", default=[3000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--peer", action="store_true", help="also vector-quantize-pytorch's VectorQuantize")
    parser.add_argument("--fsq", action="store_true", help="also fsq-mnist's code usage on train and test")
    parser.add_argument("--root", default="runs/vq-investigation")
    parser.add_argument("--finished-only", action="store_true", help="tabulate finished runs, train none")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="train only these runs (e.g. genzoo-rotation-ema-20000-seed0); tabulate the others "
                             "that are finished")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    root = Path(args.root)
    trains = trainer(not args.finished_only, args.only)
    table = investigation_table(investigation_rows(args.steps, args.seeds, args.peer, root, trains))
    fsq = fsq_runs(args.steps, args.seeds[0], root, trains) if args.fsq else []
    if fsq:
        steps, shortest, _ = fsq[0]
        label = f"configs/fsq_mnist.yaml, {steps} steps"
        table += "\n\n" + fsq_usage_report(root / "fsq-unused.png", shortest, label=label)
        table += "\n\n" + fsq_usage_by_steps(fsq, args.seeds[0])
    print(table)
    if args.write_readme:
        write_block(MARKER, table)


if __name__ == "__main__":
    main()
