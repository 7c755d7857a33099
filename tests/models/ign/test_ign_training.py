"""IGN through the shared loop: FFT noise fitted once from the training split, exact resumption, and an
exported checkpoint that loads by path and samples."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from genzoo import load_pretrained
from genzoo.cli import train_main
from tests.conftest import needs_mnist

ROOT = Path(__file__).resolve().parents[3]


def run(tmp_path, name, *extra):
    return train_main(["--config", str(ROOT / "configs" / "ign_mnist.yaml"), "model.width=4", "model.noise=fourier",
                       "model.metric_samples=0", "train.batch_size=8", "train.max_steps=4", "train.eval_every=2",
                       "train.save_every=2", "train.log_every=1", "train.preview_images=4", "train.cpu=true",
                       f"train.output_dir={tmp_path / name}", *extra])


def losses(folder: Path) -> list[float]:
    return [r["loss"] for r in map(json.loads, (folder / "log.jsonl").read_text().splitlines()) if "loss" in r]


@needs_mnist
def test_ign_trains_with_fitted_fft_noise_and_resumes_exactly(tmp_path):
    result = run(tmp_path, "full")
    model = load_pretrained(result["path"])
    assert model.fourier.std_re.max() > 0 and not torch.equal(model.fourier.std_re, type(model.fourier)((1, 28, 28)).std_re)
    assert model.sample(3).shape == (3, 1, 28, 28)
    # killed after step 2, resumed: the same losses (the fitted noise statistics come back with the state)
    run(tmp_path, "piece", "train.max_steps=2")
    run(tmp_path, "piece", "--resume", "latest")
    assert losses(tmp_path / "piece") == losses(tmp_path / "full")
    resumed = load_pretrained(tmp_path / "piece" / "model.safetensors")
    assert torch.equal(resumed.fourier.mean_re, model.fourier.mean_re)
