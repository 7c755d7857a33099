"""Which of FSQ's codes a trained FSQ autoencoder never uses, on the train split as well as test, and why.

    python -m bench.fsq_usage [--model fsq-mnist] [--out runs/vq-investigation/fsq-unused.png]

A code of FSQ with levels L_1..L_c is one level per channel; the bounded latent reaches a channel's outermost
levels only where the encoder saturates its tanh bound. The report counts codes used per split, the share of
each channel's levels used, and how many channels sit at an outermost level in the unused codes against all
codes: if unused codes are the corners of the grid, they are reachable only by saturating several channels at
once. The unused codes are decoded (each filling a 7x7 grid) into one image grid.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from genzoo import load_pretrained
from genzoo.data import pretrained_dataset
from genzoo.preview import save_image_grid


@torch.no_grad()
def code_counts(model, split, batch: int = 1000) -> torch.Tensor:
    """(K,) how often each code occurs over the split's 7x7 grids."""
    counts = torch.zeros(model.codebook_size, dtype=torch.long)
    for start in range(0, len(split), batch):
        indices = model.encode(split.batch(slice(start, start + batch)))  # (B, 7, 7)
        counts += torch.bincount(indices.flatten(), minlength=model.codebook_size)
    return counts


def outermost_channels(fsq, indices: torch.Tensor) -> torch.Tensor:
    """Per code, how many channels sit at their outermost level (-1 or +1 after scaling)."""
    codes = fsq.indices_to_codes(indices)  # (N, c) in [-1, 1]
    return (codes.abs() >= 1 - 1e-6).sum(-1)


def split_counts(model) -> dict[str, torch.Tensor]:
    """{"train": (K,), "test": (K,)} code counts of a loaded FSQ (or VQ) autoencoder on its dataset's splits."""
    dataset = pretrained_dataset(model)
    return {split: code_counts(model, dataset.load(split)) for split in ("train", "test")}


def fsq_usage_report(out: Path, name: str | Path = "fsq-mnist", label: str | None = None) -> str:
    """The usage report of the FSQ autoencoder ``name`` (shipped name or file), titled ``label`` (default: name)."""
    model = load_pretrained(name)
    fsq = model.quantizer
    counts = split_counts(model)
    used_anywhere = (counts["train"] + counts["test"]) > 0
    unused = torch.nonzero(~used_anywhere).flatten()
    every = torch.arange(model.codebook_size)
    corners_all = outermost_channels(fsq, every).float()
    corners_unused = outermost_channels(fsq, unused).float()
    digits = torch.round((fsq.indices_to_codes(every) + 1) * fsq._half_width).long()  # (K, c) levels 0..L-1
    level_use = [f"{int((torch.bincount(digits[used_anywhere, ch], minlength=int(L)) > 0).sum())}/{int(L)}"
                 for ch, L in enumerate(fsq.levels)]
    if len(unused):
        grids = unused[:64, None, None].expand(-1, 7, 7)
        save_image_grid(model.decode_indices(grids), out)
    lines = [f"`{label or name}` ({fsq.describe()}, {model.codebook_size} codes): codes used on each split "
             "(`python -m bench.vq_investigation --fsq`)", "",
             "| split | codes used | share | perplexity |", "|---|---:|---:|---:|"]
    for split, c in counts.items():
        p = c.float() / c.sum()
        perplexity = torch.exp(-torch.special.xlogy(p, p).sum())
        lines.append(f"| {split} | {int((c > 0).sum())} | {(c > 0).float().mean():.1%} | {perplexity:.1f} |")
    lines.append(f"| train or test | {int(used_anywhere.sum())} | {used_anywhere.float().mean():.1%} | - |")
    train = counts["train"]
    rare = [int(((train > 0) & (train <= n)).sum()) for n in (1, 10, 100)]
    lines += ["", f"On train ({int(train.sum()):,} code positions), codes used at most once / 10 / 100 times: "
              f"{rare[0]} / {rare[1]} / {rare[2]}; the most used code takes {train.max() / train.sum():.1%}."]
    lines += ["", f"Never used: {len(unused)} codes. Channels at an outermost level: {corners_unused.mean():.2f} "
              f"on average in the unused codes against {corners_all.mean():.2f} over all codes; unused codes with "
              f"every channel outermost: {int((corners_unused == len(fsq.levels)).sum())} of "
              f"{int((corners_all == len(fsq.levels)).sum())} such corners. Levels of each channel used by some "
              f"code: {', '.join(level_use)}." + (f" Decoded: {out}." if len(unused) else "")]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="fsq-mnist")
    parser.add_argument("--out", default="runs/vq-investigation/fsq-unused.png")
    args = parser.parse_args()
    print(fsq_usage_report(Path(args.out), args.model))


if __name__ == "__main__":
    main()
