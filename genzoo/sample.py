"""The one sample command, for every family: it dispatches on what the checkpoint's model declares.

    python -m genzoo.sample --model nade-binmnist --out samples/nade.png      # the family's preview picture
    accelerate launch -m genzoo.sample --model nade-binmnist --n 10000 --out samples.npz
    python -m genzoo.sample --all --out samples                               # one preview per shipped model
    python -m genzoo.sample --composite docs/images/samples.png               # a row from every image model

A ``.png`` is the model's preview: a grid of samples for image models, test inputs above their
reconstructions for autoencoders, the fitted density over test data for 1-D densities. A ``.npz`` holds ``n``
samples (array ``samples``), drawn through Accelerate: the work is cut into chunks of ``--chunk-size``
samples, chunk j drawn with a CPU generator seeded by (seed, j), and the processes take the chunks in turn.
Sample i therefore depends only on (seed, chunk size, i): 1 and 2 processes (or GPUs) give the same samples.
``--mixed_precision`` (or the launcher's) sets the autocast they are drawn under.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch
from accelerate.utils import gather_object

from genzoo.checkpoint import load_pretrained
from genzoo.data import pretrained_dataset
from genzoo.launch import make_accelerator
from genzoo.progress import progress
from genzoo.registry import list_pretrained


def chunk_generator(seed: int, chunk: int) -> torch.Generator:
    """The generator of chunk ``chunk``: a function of (seed, chunk) alone."""
    return torch.Generator().manual_seed(seed * 2**32 + chunk)


@torch.no_grad()
def sample_many(model, n: int, accelerator, seed: int = 0, chunk_size: int = 256, **sample_kwargs) -> torch.Tensor | None:
    """``n`` samples in chunks shared round-robin over the processes; the main process gets them all (in order,
    as float32 on the CPU), the others None. ``sample_kwargs`` go to ``model.sample`` (e.g. ``steps``)."""
    n = model.check_sample_count(n)
    chunks = range(math.ceil(n / chunk_size))
    mine = []
    mine_chunks = chunks[accelerator.process_index::accelerator.num_processes]
    for j in progress(mine_chunks, f"chunks of {chunk_size} samples"):
        with accelerator.autocast():
            x = model.sample(chunk_size, generator=chunk_generator(seed, j), **sample_kwargs)
        mine.append((j, x[: n - j * chunk_size].float().cpu()))  # the last chunk is cut, never drawn smaller
    gathered = gather_object(mine)
    if not accelerator.is_main_process:
        return None
    return torch.cat([x for _, x in sorted(gathered, key=lambda item: item[0])])


def reference_split(model, data_root: str | None = None):
    """A zero-argument callable giving the test split of the data ``model`` was trained on (loaded lazily:
    only previews that show real data ask for it)."""
    return lambda: pretrained_dataset(model, data_root).load("test")


def write_preview(model, out: Path, n: int, seed: int, data_root: str | None = None, accelerator=None) -> Path:
    autocast = accelerator.autocast() if accelerator is not None else torch.autocast("cpu", enabled=False)
    with autocast:
        return model.write_preview(out, n, seed, reference=reference_split(model, data_root))


def preview_all(out_dir: str | Path, n: int = 64, seed: int = 0, data_root: str | None = None,
                names: list[str] | None = None) -> list[Path]:
    """One preview PNG per checkpoint (every shipped one unless ``names`` are given) in ``out_dir``."""
    names = list_pretrained() if names is None else names
    if not names:
        print("no shipped checkpoints in genzoo/checkpoints/ yet")
    paths = []
    for name in names:
        model = load_pretrained(name)
        paths.append(write_preview(model, Path(out_dir) / f"{Path(name).stem}.png", n, seed, data_root))
        print(f"wrote {paths[-1]}", flush=True)
    return paths


def write_composite(out: str | Path, per_row: int = 12, seed: int = 0, names: list[str] | None = None) -> Path:
    """One labelled row of ``per_row`` samples from every shipped checkpoint that draws images (the front
    page's picture: ``python -m genzoo.sample --composite docs/images/samples.png``)."""
    from genzoo.plotting import labelled_rows

    rows = []
    for name in list_pretrained() if names is None else names:
        images = load_pretrained(name).sample_images(per_row, seed)
        if images is not None:
            rows.append((Path(name).stem, images))
    if not rows:
        raise ValueError("none of these checkpoints draws images; nothing to put in a composite")
    return labelled_rows(rows, Path(out))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a shipped checkpoint name, a .safetensors path or a Hugging Face folder")
    parser.add_argument("--all", action="store_true", help="a preview of every shipped checkpoint into --out (a folder)")
    parser.add_argument("--composite", metavar="PNG", default=None,
                        help="one labelled row of --per-row samples from every shipped checkpoint that draws images")
    parser.add_argument("--per-row", type=int, default=12, help="samples per row of --composite")
    parser.add_argument("--n", type=int, default=64, help="number of samples (images in a preview grid)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="a .png (preview) or .npz (samples) path; default "
                                                    "samples/<model>.png")
    parser.add_argument("--chunk-size", type=int, default=256, help="samples per chunk of work (.npz)")
    parser.add_argument("--mixed_precision", "--mixed-precision", choices=("no", "fp16", "bf16"), default=None,
                        help="autocast while sampling (default: the launcher's choice, else no)")
    parser.add_argument("--data-root", default=None, help="data for previews that show real images")
    parser.add_argument("--cpu", action="store_true", help="sample on the CPU even where a GPU is present")
    args = parser.parse_args(argv)
    if not args.all and not args.model and not args.composite:
        parser.error("give --model NAME (or --all, or --composite PNG)")
    if args.per_row < 1:
        parser.error(f"--per-row must be >= 1, got {args.per_row}")
    if args.chunk_size < 1:
        parser.error(f"--chunk-size must be >= 1, got {args.chunk_size}")
    return args


def main(argv: list[str] | None = None) -> Path | list[Path] | None:
    args = parse_args(argv)
    if args.composite:
        path = write_composite(args.composite, args.per_row, args.seed)
        print(f"wrote {path}")
        return path
    if args.all:
        return preview_all(args.out or "samples", args.n, args.seed, args.data_root)
    accelerator = make_accelerator(args.mixed_precision, cpu=args.cpu)
    out = _sample(args, accelerator)
    # every rank leaves the process group together: a gloo group still alive at interpreter exit can abort a
    # rank ("terminate called without an active exception") after the work is done
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return out


def _sample(args, accelerator) -> Path:
    model = load_pretrained(args.model, device=accelerator.device)
    out = Path(args.out or f"samples/{Path(args.model).stem}.png")
    if out.suffix == ".png":
        if accelerator.is_main_process:
            print(f"wrote {write_preview(model, out, args.n, args.seed, args.data_root, accelerator)}")
        return out
    if out.suffix != ".npz":
        sys.exit(f"--out must end in .png (a preview) or .npz (samples), got {out}")
    if not model.has_sampler:
        sys.exit(f"{args.model} ({model.architecture}) has no sampler; --out x.png writes its preview instead")
    samples = sample_many(model, args.n, accelerator, args.seed, args.chunk_size)
    if accelerator.is_main_process:
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez(out, samples=samples.numpy(), seed=args.seed, chunk_size=args.chunk_size,
                 model=str(args.model), mixed_precision=accelerator.mixed_precision)
        print(f"wrote {out}: {args.n} samples of shape {tuple(samples.shape[1:])} "
              f"({accelerator.num_processes} process(es), mixed precision {accelerator.mixed_precision})")
    return out


def cli() -> None:
    """``genzoo-sample``."""
    main()


if __name__ == "__main__":
    cli()
