"""Training throughput against pytorch-generative (Hotaj et al.), side by side in one run.

    python -m bench.peer_training --peer /path/to/pytorch-generative [--steps 3] [--threads 1] [--models MADE ...]
        [--write-readme]

The peer is imported from the checkout the user gives (its folder holding ``pytorch_generative/``); it is never
a dependency of genzoo. Only the model modules are imported (its package __init__ pulls in scikit-learn and
its trainer). Sizes: FVSBN, NADE (500 units) and one-mask MADE (1 x 500, 1 x 8000 units) at batch 64 and 512;
the PixelCNNs at the peer's ``reproduce()`` settings: PixelCNN 15 residual blocks of 2 x 16 channels, head 32,
batch 256; Gated PixelCNN 10 gated layers + the input layer, 128 channels, head 32, batch 128, ours twice: with
the paper's (k//2 + 1) x k vertical kernel and with ``vertical=factorized`` (1 x k then (k//2 + 1) x 1, the
peer's split). genzoo's models are built at the same sizes. A step = forward + backward + fused Adam update on the same batch of
static binarized MNIST (random binary images where the data are missing); images/s is the best of
``--repeats`` timings (ours and the peer's in turn) of at least ``--steps`` steps and 0.3 s, after a warm-up
step. The last column is the relative difference of genzoo's loss on that batch from the same model's loss by
its plainest form (NADE's cumsum of eq. 4-5, MADE's dense masked layers): the fast passes change no loss
beyond float32 rounding.
"""
from __future__ import annotations

import argparse
import importlib
import math
import sys
import time
import types
from pathlib import Path

import torch
import torch.nn.functional as F

from bench.common import publish
from genzoo import create_model
from genzoo.models.autoregressive.made import MADE
from genzoo.models.autoregressive.nade import NADE, nade_logits_cumsum


def import_peer(path: str, module: str):
    """``pytorch_generative.<module>`` from the checkout at ``path``, skipping the package's own __init__."""
    root = Path(path).expanduser().resolve() / "pytorch_generative"
    if not root.is_dir():
        raise SystemExit(f"--peer {path}: no pytorch_generative/ folder there (give the checkout's root)")
    for name, folder in (("pytorch_generative", root), ("pytorch_generative.models", root / "models")):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(folder)]
            sys.modules[name] = package
    return importlib.import_module(f"pytorch_generative.{module}")


def peer_loss(model):
    """The peer's reproduce() loss: Bernoulli logits, summed over pixels, averaged over the batch."""
    def loss(x):
        return F.binary_cross_entropy_with_logits(model(x).flatten(1), x.flatten(1), reduction="none").sum(1).mean()
    return loss


def ours_loss(model):
    return lambda x: model.loss(x)[0]


def reference_loss(model, x: torch.Tensor) -> torch.Tensor | None:
    """Our model's loss by the plainest form of its maths, to show the fast passes change no loss: NADE's eq. 4-5
    as a cumsum, a MADE (FVSBN too) in its ``dense_form`` (``F.linear(h, weight * mask)`` layers); None for the
    PixelCNNs."""
    x_flat = x.flatten(1)
    if isinstance(model, NADE):
        logits = nade_logits_cumsum(x_flat, model.W, model.c, model.V, model.b)
    elif isinstance(model, MADE):
        with model.dense_form():
            logits = model.conditional_logits(x_flat)
    else:
        return None
    return F.binary_cross_entropy_with_logits(logits, x_flat, reduction="none").sum(1).mean()


def loss_difference(model, x: torch.Tensor) -> str:
    """|genzoo's loss - the reference form's| on the batch, relative (float32 rounding is ~1e-7)."""
    with torch.no_grad():
        reference = reference_loss(model, x)
        if reference is None:
            return "-"
        return f"{abs(float(model.loss(x)[0]) - float(reference)) / float(reference):.0e}"


def pairs(peer: str):
    """(name, batch sizes, genzoo model, peer model): the MLP models at the sizes of issue 16's table, the
    PixelCNNs at the peer's reproduce() sizes and batch."""
    fvbn = import_peer(peer, "models.autoregressive.fvbn")
    nade = import_peer(peer, "models.autoregressive.nade")
    made = import_peer(peer, "models.autoregressive.made")
    pixel_cnn = import_peer(peer, "models.autoregressive.pixel_cnn")
    gated = import_peer(peer, "models.autoregressive.gated_pixel_cnn")
    yield "FVSBN", (64, 512), create_model("fvsbn"), fvbn.FullyVisibleBeliefNetwork(n_dims=784)
    yield "NADE, 500 units", (64, 512), create_model("nade", hidden=500), nade.NADE(input_dim=784, hidden_dim=500)
    for hidden in (500, 8000):
        yield (f"MADE, 1x{hidden}, 1 mask", (64, 512), create_model("made", hidden=hidden),
               made.MADE(input_dim=784, hidden_dims=[hidden], n_masks=1))
    yield ("PixelCNN", (256,), create_model("pixelcnn", channels=32, blocks=15, output_channels=32),
           pixel_cnn.PixelCNN(in_channels=1, out_channels=1, n_residual=15, residual_channels=16, head_channels=32))
    peer_gated = gated.GatedPixelCNN(in_channels=1, out_channels=1, n_gated=10, gated_channels=128, head_channels=32)
    for vertical in ("full", "factorized"):  # ours with the paper's vertical kernel, then with the peer's split
        yield (f"Gated PixelCNN, {vertical} vertical", (128,),
               create_model("gated_pixelcnn", channels=128, layers=11, output_channels=32, vertical=vertical),
               peer_gated)


def images(batch: int) -> torch.Tensor:
    from genzoo.data import BinarizedMNISTData, DataNotFoundError

    try:
        return BinarizedMNISTData().load("train").head(batch)
    except DataNotFoundError:
        return (torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(0)) < 0.13).float()


def training_steps(model, loss_fn, x: torch.Tensor):
    """``run(n)``: n training steps of ``model`` on the batch ``x``, for both sides with the fused Adam kernel
    that genzoo's training loop uses (the default per-operation Adam is slower for both, and ~6x slower in its
    sqrt on the exact zeros that masked weights' second moments hold, a CPU quirk that has nothing to do with
    the models)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)

    def run(n: int) -> None:
        for _ in range(n):
            loss = loss_fn(x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    return run


def images_per_second_side_by_side(runs: list, batch: int, steps: int, repeats: int,
                                   min_seconds: float = 0.3) -> list[float]:
    """Images/s of each ``run`` (from ``training_steps``), timed in turn ``repeats`` times, best of each.

    Alternating the models spreads any load from other processes over both; each timing runs at least
    ``steps`` steps and at least ``min_seconds`` (a 10 ms step timed 3 times is mostly noise).
    """
    counts = []
    for run in runs:
        run(1)  # warm-up
        start = time.perf_counter()
        run(1)
        counts.append(max(steps, math.ceil(min_seconds / (time.perf_counter() - start))))
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for i, (run, n) in enumerate(zip(runs, counts)):
            start = time.perf_counter()
            run(n)
            best[i] = min(best[i], (time.perf_counter() - start) / n)
    return [batch / t for t in best]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", required=True, help="root of a pytorch-generative checkout")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=None, help="one batch size for every row instead of theirs")
    parser.add_argument("--models", nargs="*", default=None, help="rows whose name contains one of these")
    parser.add_argument("--write-readme", action="store_true",
                        help="also put the tables measured (MLP models, PixelCNNs) into their pages (docs/)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tables: dict[str, list] = {}  # README marker -> rows: the MLP models' table and the PixelCNNs' table
    for name, batches, ours, peer in pairs(args.peer):
        if args.models and not any(m.lower() in name.lower() for m in args.models):
            continue
        for batch in [args.batch] if args.batch else batches:
            x = images(batch)
            difference = loss_difference(ours.train(), x)
            runs = [training_steps(ours, ours_loss(ours), x), training_steps(peer.train(), peer_loss(peer), x)]
            ips_ours, ips_peer = images_per_second_side_by_side(runs, batch, args.steps, args.repeats)
            marker = "peer-training" if "PixelCNN" in name else "peer-training-mlp"
            tables.setdefault(marker, []).append(
                [name, batch, f"{ours.num_parameters():,}", f"{sum(p.numel() for p in peer.parameters()):,}",
                 ips_ours, ips_peer, f"{ips_ours / ips_peer:.2f}x", difference])
    caption = (f"Training step images/s (forward, backward, fused Adam), torch threads = {torch.get_num_threads()}, "
               f"best of {args.repeats} alternating timings of >= {args.steps} steps and >= 0.3 s "
               "(`python -m bench.peer_training --peer ...`)")
    headers = ["model", "batch", "genzoo params", "peer params", "genzoo img/s", "peer img/s", "ratio",
               "loss vs reference form"]
    for marker, rows in tables.items():
        publish(caption, headers, rows, marker, args.write_readme)

if __name__ == "__main__":
    main()
