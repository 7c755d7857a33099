"""The pictures of the front page and the docs/ pages, written from the shipped checkpoints.

    python -m genzoo.figures                   # docs/images/: samples.png, previews/*.png, curves/*.png
    python -m genzoo.figures --log runs/x/log.jsonl --out docs/images/curves/x.png   # one run's curve (and
                                               # x-classes.png: its samples' class histogram, where it has one)

``samples.png`` is one labelled row of samples from every shipped checkpoint that draws images; ``previews/``
holds each checkpoint's preview (the sample command's PNG: a grid of samples, inputs above reconstructions, a
fitted density); ``curves/`` each learning curve a shipped file records (its run's ``log.jsonl``, kept in its
metadata at export as ``history``): the training loss and the valid metrics against the step, and for a model
scored by its samples the class histogram of its valid samples at each evaluation (``NAME-classes.png``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from genzoo.checkpoint import read_metadata
from genzoo.plotting import class_histograms, learning_curves
from genzoo.registry import get_model_class, list_pretrained
from genzoo.run_log import is_number, learning_curve
from genzoo.sample import preview_all, write_composite

DOCS_IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"


def curve_plot(history: list[dict], path: Path, title: str, metrics: tuple[str, ...] | None = None) -> Path | None:
    """The training loss and each valid metric of ``history`` (those named in ``metrics`` where given) against
    the step, in one plot (None when the history holds no loss and no valid metric)."""
    curves: dict[str, list[tuple[int, float]]] = {}
    for record in history:
        for key, value in record.items():
            if not is_number(value):
                continue
            if key == "loss" or key.startswith("valid_") and (metrics is None or key[len("valid_"):] in metrics):
                curves.setdefault("training loss (batch mean)" if key == "loss" else key, []).append(
                    (record["step"], value))
    if not curves:
        return None
    return learning_curves(curves, path, title, "loss / valid metric")


def class_plot(history: list[dict], path: Path, title: str) -> Path | None:
    """The valid samples' class histogram at each evaluation of ``history``, stacked against the step (None
    when the history records none)."""
    records = [r for r in history if "valid_class_shares" in r]
    if not records:
        return None
    return class_histograms([r["step"] for r in records], [r["valid_class_shares"] for r in records], path,
                            f"{title}: classes of the samples")


def write_curves(out_dir: Path, names: list[str] | None = None) -> list[Path]:
    """A learning-curve PNG for every shipped checkpoint that records its history (the valid metrics its family
    names in ``curve_metrics``)."""
    written = []
    for name in list_pretrained() if names is None else names:
        metadata = read_metadata(name)
        metrics = get_model_class(metadata["architecture"]).curve_metrics
        for path in (curve_plot(metadata["history"], Path(out_dir) / f"{name}.png", name, metrics),
                     class_plot(metadata["history"], Path(out_dir) / f"{name}-classes.png", name)):
            if path is not None:
                written.append(path)
                print(f"wrote {path}", flush=True)
    return written


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=DOCS_IMAGES, help="the folder of the docs' pictures")
    parser.add_argument("--log", type=Path, help="plot this run's log.jsonl into --out instead")
    parser.add_argument("--out", type=Path, help="with --log: the PNG to write")
    args = parser.parse_args(argv)
    if args.log is not None:
        if args.out is None:
            parser.error("--log needs --out PNG")
        if not args.log.is_file():
            parser.error(f"{args.log} not found")
        curve = learning_curve(args.log)
        path = curve_plot(curve, args.out, args.log.parent.name)
        if path is None:
            parser.error(f"{args.log} holds no training loss or valid metric to plot")
        classes = class_plot(curve, args.out.with_name(f"{args.out.stem}-classes.png"), args.log.parent.name)
        return [path] + ([classes] if classes else [])
    written = [write_composite(args.images / "samples.png")]
    written += preview_all(args.images / "previews")
    return written + write_curves(args.images / "curves")


if __name__ == "__main__":
    main()
