"""1-D density models at equal parameter budgets: Fourier basis density (FBDM) vs Gaussian mixture vs Balle's
deep factorized density, with scipy's gaussian_kde as a non-parametric reference; one printed table.

    python -m bench.fourier [--targets gmm10 laplace ...] [--steps 3000]

Every parametric model is fit by the shared training loop (AdamW, lr 1e-2 with warm-up and cosine decay, batch
500, --steps steps) on the target's 50000 training points; "fit s" is the wall time of that call (including
its final valid/test evaluation). KL(target || model) is computed by adaptive quadrature against the exact
target density; the target's differential entropy is the best possible test NLL in expectation.
Budgets ~10/30/100 parameters: FBDM N = 3/13/48 frequencies (2N + 4 parameters), GMM K = 3/10/33 components
(3K), deep factorized filters (2,) / (3, 3) / (5, 5, 5) (9 / 28 / 91).
"""
from __future__ import annotations

import argparse
import copy
import tempfile
import time

import numpy as np
import torch
from scipy import stats

from bench.common import markdown_table, print_table
from genzoo import create_model
from genzoo.data import Splits, Toy1DData, toy1d
from genzoo.doc_tables import write_block
from genzoo.training import TrainConfig, train

BUDGETS = {
    10: {"fourier1d": {"num_frequencies": 3}, "gmm1d": {"components": 3}, "deep_factorized1d": {"filters": (2,)}},
    30: {"fourier1d": {"num_frequencies": 13}, "gmm1d": {"components": 10}, "deep_factorized1d": {"filters": (3, 3)}},
    100: {"fourier1d": {"num_frequencies": 48}, "gmm1d": {"components": 33},
          "deep_factorized1d": {"filters": (5, 5, 5)}},
}
MARKER = "fourier-bench"  # the table lies between this marker's lines in README.md or a docs/ page
LABELS = {"fourier1d": "FBDM", "gmm1d": "GMM", "deep_factorized1d": "deep factorized"}


def initial_overrides(arch: str, train_values: np.ndarray) -> dict:
    """Start every model at the data's location and spread (the same information for all three)."""
    centre, spread = float(np.median(train_values)), float(np.std(train_values))
    if arch == "fourier1d":
        return {"offset": centre, "scale": 2 * spread}
    if arch == "gmm1d":
        return {"init_spread": spread}
    return {"init_scale": spread}


def fit(arch: str, overrides: dict, target: str, steps: int, out: str):
    torch.manual_seed(0)
    data = Splits(Toy1DData(target=target))
    model = create_model(arch, **overrides)
    if arch == "gmm1d":  # means at data quantiles rather than around 0
        values = data["train"].images()[:, 0]
        with torch.no_grad():
            model.means.copy_(torch.quantile(values, torch.linspace(0.05, 0.95, model.config.components))[None])
    config = TrainConfig(output_dir=out, batch_size=500, max_steps=steps, lr=1e-2, warmup_steps=100,
                         eval_every=steps, save_every=steps, log_every=steps, preview_images=0, cpu=True)
    start = time.perf_counter()
    result = train(model, data, config)
    return model, result["metrics"]["test_nll"], time.perf_counter() - start


def kl_of(model, target: str) -> float:
    model = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        return toy1d.kl_divergence(target, lambda y: model.log_prob(torch.from_numpy(y)[:, None])[:, 0].numpy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", nargs="*", default=list(toy1d.TARGETS))
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--write-readme", action="store_true", help="also write the table into its page")
    args = parser.parse_args()
    rows = []
    for target in args.targets:
        train_values = toy1d.sample_target(target, "train")
        test_values = toy1d.sample_target(target, "test")
        entropy = float(np.mean(-toy1d.target(target).logpdf(toy1d.sample_target(target, "valid"))))
        for budget, archs in BUDGETS.items():
            for arch, overrides in archs.items():
                with tempfile.TemporaryDirectory() as out:
                    model, test_nll, seconds = fit(arch, {**overrides, **initial_overrides(arch, train_values)},
                                                   target, args.steps, out)
                rows.append([target, budget, LABELS[arch], model.num_parameters(), test_nll, kl_of(model, target),
                             seconds])
        start = time.perf_counter()
        kde = stats.gaussian_kde(train_values)
        seconds = time.perf_counter() - start
        kl = toy1d.kl_divergence(target, lambda y: kde.logpdf(y))
        rows.append([target, "-", "KDE (scipy)", "-", float(-kde.logpdf(test_values).mean()), kl, seconds])
        rows.append([target, "-", "(target entropy, estimate)", "-", entropy, 0.0, 0.0])
        print_table(["target", "budget", "model", "params", "test NLL", "KL(target||model)", "fit s"], rows[-11:])
        print()
    headers = ["target", "budget", "model", "params", "test NLL", "KL(target||model)", "fit s"]
    caption = f"{args.steps} steps of batch 500, torch threads = {torch.get_num_threads()} (`python -m bench.fourier`)"
    print(caption)
    print_table(headers, rows)
    if args.write_readme:
        write_block(MARKER, caption + "\n\n" + markdown_table(headers, rows))


if __name__ == "__main__":
    main()
