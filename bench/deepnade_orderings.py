"""DeepNADE's ensemble against its number of orderings (EoNADE, Uria et al. 2014), and the export of the
ensemble chosen on valid.

    python -m bench.deepnade_orderings --model runs/deepnade-binmnist/model.safetensors --orderings 16 \\
        [--splits valid test] [--write-readme] [--export PATH --choose K]

One ordering costs D = 784 steps of the upper layers per image (55-99 s over the 10000 images of a split on
one CPU thread for 2 x 500 units, depending on the other core's load), so log p(x | o_k) of every image is
computed once per ordering and split and kept in runs/deepnade-orderings/<weights hash>/<split>-<k>.pt: an
interrupted run resumes, and a larger --orderings computes only the new ones (the first K orderings of a seed
are the same for every K). The table gives the mixture's NLL, -mean log((1/K) sum_k p(x | o_k)), for
K = 1, 2, 4, ... and --orderings.

With --export, the model with --choose orderings is saved (float16, as trained) with its NLL on each split from
the same numbers, its NLL on the first HEAD test images (what the shipped-checkpoint test recomputes), and the
source file's dataset, training record, step and training time.
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

from bench.common import publish
from genzoo import load_pretrained
from genzoo.checkpoint import read_metadata, save_pretrained
from genzoo.data import pretrained_dataset

HEAD = 25  # test images whose NLL the export records for the shipped-checkpoint test (~1 s per 32 orderings)


@torch.no_grad()
def ordering_log_probs(model, split, k: int, batch: int = 500) -> torch.Tensor:
    """(N,) float64 log p(x | o_k) of every image of the split."""
    parts = [model.component_log_prob(split.batch(slice(s, s + batch)), k) for s in range(0, len(split), batch)]
    return torch.cat(parts).double()


def cached_log_probs(model, split, name: str, orderings: int, folder: Path) -> torch.Tensor:
    """(K, N) log p(x | o_k) for k < orderings, computed where not yet in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(orderings):
        path = folder / f"{name}-{k}.pt"
        if not path.is_file():
            start = time.perf_counter()
            values = ordering_log_probs(model, split, k)
            torch.save(values, path.with_suffix(".tmp"))
            path.with_suffix(".tmp").rename(path)  # atomic: a killed run leaves no half-written ordering
            print(f"{name} ordering {k}: NLL {-values.mean():.3f} ({time.perf_counter() - start:.0f} s)", flush=True)
        rows.append(torch.load(path))
    return torch.stack(rows)


def mixture_nll(log_probs: torch.Tensor, k: int) -> float:
    """-mean log((1/k) sum_{j<k} p(x | o_j)) from the (K, N) per-ordering log-likelihoods."""
    return float(-(torch.logsumexp(log_probs[:k], dim=0) - math.log(k)).mean())


def ensemble_sizes(orderings: int) -> list[int]:
    return sorted({2**i for i in range(orderings.bit_length()) if 2**i <= orderings} | {orderings})


def export(model, source: Path, chosen: int, nll: dict[str, float], head_nll: float, out: Path) -> None:
    """Save ``model`` as the mixture over ``chosen`` orderings at ``out`` with these metrics (never over a file)."""
    if out.exists():
        raise FileExistsError(f"{out} exists: a finished model is never overwritten (remove it first)")
    meta = read_metadata(source)
    metrics = {f"{split}_nll": value for split, value in nll.items()}
    metrics[f"test_head{HEAD}_nll"] = head_nll
    metrics.update({key: meta["metrics"][key] for key in ("step", "train_seconds") if key in meta["metrics"]})
    save_pretrained(model.with_orderings(chosen), out, metrics=metrics, dataset=meta["dataset"],
                    train_config=meta["train_config"], dtype=torch.float16)
    print(f"wrote {out}: {metrics}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="runs/deepnade-binmnist/model.safetensors")
    parser.add_argument("--orderings", type=int, default=16)
    parser.add_argument("--splits", nargs="+", default=["valid", "test"], choices=["valid", "test"])
    parser.add_argument("--root", default="runs/deepnade-orderings")
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument("--export", type=Path, help="save the ensemble of --choose orderings here")
    parser.add_argument("--choose", type=int, help="orderings of the exported ensemble (chosen on valid)")
    args = parser.parse_args()
    source = Path(args.model)
    trained = load_pretrained(source)
    model = trained.with_orderings(args.orderings).eval()
    folder = Path(args.root) / trained.pretrained_metadata["tensors_sha256"][:16]
    dataset = pretrained_dataset(trained)
    per_split = {name: cached_log_probs(model, dataset.load(name), name, args.orderings, folder)
                 for name in args.splits}
    rows = [[k] + [f"{mixture_nll(lp, k):.2f}" for lp in per_split.values()] for k in ensemble_sizes(args.orderings)]
    caption = (f"DeepNADE ({model.config.layers} x {model.config.hidden} units, `{source}`): the mixture over its "
               f"first K orderings, NLL in nats (`python -m bench.deepnade_orderings`)")
    publish(caption, ["orderings K"] + [f"{name} NLL" for name in per_split], rows, "deepnade-orderings",
            args.write_readme)
    if args.export is not None:
        if args.choose is None or not 1 <= args.choose <= args.orderings or set(per_split) != {"valid", "test"}:
            raise SystemExit("--export needs --choose K in 1..--orderings and both splits")
        nll = {name: mixture_nll(lp, args.choose) for name, lp in per_split.items()}
        head_nll = mixture_nll(per_split["test"][:, :HEAD], args.choose)  # the numbers above, first HEAD images
        export(model, source, args.choose, nll, head_nll, args.export)


if __name__ == "__main__":
    main()
