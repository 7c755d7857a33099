"""Score samples against the 10000 MNIST test digits in the feature space of the shipped classifier:

    python -m genzoo.metrics --model ign-mnist --steps 2        # draw 10000 samples (f once and twice) and score
    accelerate launch -m genzoo.metrics --model gan-mnist --mixed_precision bf16   # the draws split over processes
    python -m genzoo.metrics --samples samples.npz               # a file written by genzoo.sample
    python -m genzoo.metrics --calibrate                         # the scale: real digits, pixel noise, one class
    python -m genzoo.metrics --reconstructions fsq-mnist --splits test train   # an autoencoder's floor
    python -m genzoo.metrics --model gan-mnist --class-matched  # + real digits at the samples' class shares
    python -m genzoo.metrics --model vq-prior-mnist --temperature 1 0.9   # a prior's codes drawn at T = 1 and 0.9
    python -m genzoo.metrics --model gan-mnist --temperature 1 0.6 --against valid   # choose T on the valid digits

Every family's samples are scored the same way: a checkpoint is sampled through the one sample command's
``sample_many`` (sample i depends on the seed and i alone, so 1 and N processes give the same images), a sample
file is read as it is. Metrics: classifier FID, KID, precision / recall (k = 3), Inception Score, the classes
present (at least 1% of the samples) and the smallest and largest class shares; for models that iterate
(``--steps``), the idempotence gap ||f(f(z)) - f(z)|| / ||f(z)||.

An autoencoder's reconstructions of real digits are the floor of any prior over its codes: a prior that drew the
codes of real digits would score just that. Reconstructions of the test digits are scored against those digits
themselves (below the train-digit floor); those of train digits compare like for like with ``--calibrate``'s
"real train digits (floor)". ``--class-matched`` adds, under each scored sample set, real train digits drawn at
that set's class shares: what its class balance alone costs in FID.
"""
from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path

import numpy as np
import torch

from genzoo.metrics.calibration import calibration_sets, class_matched_set
from genzoo.metrics.features import classifier_outputs, load_classifier, reference_outputs
from genzoo.metrics.quality import idempotence_gap, metric_cells
from genzoo.metrics.sample_metrics import score_features
from genzoo.results import fmt

COLUMNS = ("samples", "n", "classifier FID", "KID", "precision", "recall", "Inception Score", "classes",
           "class shares", "idempotence gap")


def mnist_images(split: str, data_root: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (N, 1, 28, 28) in [0, 1], labels) of an MNIST split."""
    from genzoo.data import MNISTData

    images, labels = MNISTData(root=data_root, labels=True).load(split).batch(slice(None))
    return images, labels


def row(name: str, metrics: dict, gap: float | None = None) -> list[str]:
    return [name, str(metrics["n"]), *metric_cells(metrics, fmt(gap, 4))]


def markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * (len(COLUMNS) - 1)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


class Scorer:
    """The features of a split's digits (the test digits unless ``split`` says valid; computed once per process:
    features.reference_outputs) and ``score(images)`` of any set against them."""

    def __init__(self, classifier: str = "mnist-classifier", data_root: str | None = None, split: str = "test"):
        self.classifier = load_classifier(classifier)
        self.real = reference_outputs(classifier, mnist_images(split, data_root)[0])

    def score(self, images: torch.Tensor) -> dict:
        metrics = score_features(self.real, classifier_outputs(self.classifier, images))
        return {"n": images.shape[0], **metrics}


def calibration_rows(scorer: Scorer, n: int, data_root: str | None = None) -> list[list[str]]:
    images, labels = mnist_images("train", data_root)
    return [row(name, scorer.score(images_)) for name, images_ in calibration_sets(images, labels, n).items()]


def class_matched_rows(scorer: Scorer, scored: dict, data_root: str | None = None) -> tuple[list, dict]:
    """For each scored set: as many real train digits drawn at its class shares, scored the same way."""
    images, labels = mnist_images("train", data_root)
    rows, out = [], {}
    for label, metrics in scored.items():
        matched = f"real train digits at the class shares of {label}"
        shares = torch.tensor(metrics["class_shares"])
        out[matched] = scorer.score(class_matched_set(images, labels, shares, metrics["n"]))
        rows.append(row(matched, out[matched]))
    return rows, out


@torch.no_grad()
def reconstructions(name: str, split: str, n: int, data_root: str | None = None) -> torch.Tensor:
    """Autoencoder ``name``'s reconstructions (n, C, H, W) in [0, 1] of the first ``n`` digits of an MNIST split."""
    from genzoo.checkpoint import load_pretrained

    model = load_pretrained(name).eval()
    if not callable(getattr(model, "reconstruct", None)):
        raise ValueError(f"{name!r} is a {model.architecture}, which reconstructs no images: give an autoencoder "
                         "(e.g. vqvae-rotation-mnist, fsq-mnist)")
    images = mnist_images(split, data_root)[0][:n]  # (n, 1, 28, 28)
    return torch.cat([model.reconstruct(chunk) for chunk in images.split(500)])


def reconstruction_rows(scorer: Scorer, names: list[str], splits: list[str], n: int,
                        data_root: str | None = None) -> tuple[list, dict]:
    rows, out = [], {}
    for name in names:
        for split in splits:
            label = f"{name}, reconstructions of {split} digits"
            out[label] = scorer.score(reconstructions(name, split, n, data_root))
            rows.append(row(label, out[label]))
    return rows, out


def draw(args) -> list[tuple[str, torch.Tensor | None]]:
    """[(name, samples (N, [steps,] C, H, W))] of a checkpoint through Accelerate, one per ``--temperature``
    (samples None off the main process), or of a sample file."""
    if args.samples:
        with np.load(args.samples) as data:
            return [(Path(args.samples).name, torch.from_numpy(data["samples"]).float())]
    from genzoo.checkpoint import load_pretrained
    from genzoo.launch import make_accelerator
    from genzoo.sample import sample_many

    accelerator = make_accelerator(args.mixed_precision, cpu=args.cpu)
    model = load_pretrained(args.model, device=accelerator.device)
    kwargs = {"steps": args.steps + 1, "all_steps": True} if args.steps else {}
    name = Path(args.model).stem
    if args.temperature and "temperature" not in inspect.signature(model.sample).parameters:
        raise ValueError(f"--temperature: {args.model!r} ({model.architecture}) samples at no temperature; "
                         "the autoregressive grid models, code priors and the GAN do")
    draws = []
    for t in args.temperature or [None]:  # None: the model's own sampler, no temperature passed
        at = {} if t is None else {"temperature": t}
        label = name if t is None else f"{name} at temperature {t:g}"
        draws.append((label, sample_many(model, args.n, accelerator, args.seed, args.chunk_size, **kwargs, **at)))
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return draws


def score_draws(scorer: Scorer, name: str, samples: torch.Tensor, steps: int | None) -> tuple[list, dict]:
    if not steps:
        metrics = scorer.score(samples)
        return [row(name, metrics)], {name: metrics}
    rows, out = [], {}
    for k in range(steps):
        label = f"{name}, f applied {k + 1}x"
        gap = idempotence_gap(samples[:, k], samples[:, k + 1])
        out[label] = {**scorer.score(samples[:, k]), "gap": gap}
        rows.append(row(label, out[label], gap))
    return rows, out


def main(argv: list[str] | None = None) -> str | None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", help="a checkpoint name or path whose model samples images")
    source.add_argument("--samples", help="a .npz written by genzoo.sample (array 'samples', (N, C, H, W))")
    source.add_argument("--reconstructions", nargs="+", metavar="AUTOENCODER",
                        help="score these autoencoders' reconstructions of the first --n digits of --splits")
    parser.add_argument("--splits", nargs="+", choices=("test", "train"), default=["test"],
                        help="the MNIST splits whose digits --reconstructions reconstructs")
    parser.add_argument("--calibrate", action="store_true", help="also print the calibration rows")
    parser.add_argument("--class-matched", action="store_true",
                        help="also score real train digits drawn at each sample set's class shares")
    parser.add_argument("--steps", type=int, default=0, help="models that iterate (IGN): score f applied 1..steps times")
    parser.add_argument("--temperature", type=float, nargs="+", default=None,
                        help="draw at these temperatures, a row each (grid models and code priors: each code; "
                        "the GAN: its latent code's scale; 1 is the trained sampler)")
    parser.add_argument("--against", choices=("test", "valid"), default="test",
                        help="the MNIST split whose digits the samples are scored against (valid: to choose a "
                        "sampling setting without looking at the test digits)")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--mixed_precision", "--mixed-precision", choices=("no", "fp16", "bf16"), default=None)
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--classifier", default="mnist-classifier")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--json", default=None, help="also write the metrics here")
    parser.add_argument("--write-docs", metavar="MARKER", default=None,
                        help="also write the table between the <!-- MARKER:start/end --> lines of its docs page")
    args = parser.parse_args(argv)
    if not (args.model or args.samples or args.reconstructions or args.calibrate):
        parser.error("give --model, --samples, --reconstructions or --calibrate")
    if args.class_matched and not (args.model or args.samples):
        parser.error("--class-matched needs samples to match: give --model or --samples")
    if args.temperature is not None and not args.model:
        parser.error("--temperature draws a checkpoint's samples: give --model")
    draws = draw(args) if (args.model or args.samples) else []
    if draws and draws[0][1] is None:
        return None  # not the main process: it helped draw the samples
    scorer = Scorer(args.classifier, args.data_root, args.against)
    rows, everything = [], {}
    if args.calibrate:
        rows += calibration_rows(scorer, args.n, args.data_root)
    for name, samples in draws:
        new_rows, scored = score_draws(scorer, name, samples, args.steps)
        rows, everything = rows + new_rows, {**everything, **scored}
    if draws and args.class_matched:
        new_rows, matched = class_matched_rows(scorer, everything, args.data_root)
        rows, everything = rows + new_rows, {**everything, **matched}
    if args.reconstructions:
        new_rows, everything = reconstruction_rows(scorer, args.reconstructions, args.splits, args.n, args.data_root)
        rows += new_rows
    table = markdown(rows)
    if args.against != "test":  # the tables of record score against the test digits: say when not
        table = f"Scored against the MNIST {args.against} digits, not the test digits.\n\n{table}"
    print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=2))
    if args.write_docs:
        from genzoo.doc_tables import write_block

        print(f"wrote {write_block(args.write_docs, table)}")
    return table


def cli() -> None:
    main()


if __name__ == "__main__":
    cli()
