"""The one sample command: previews by family, samples through Accelerate, 1 process = 2 processes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genzoo import create_model, save_pretrained
from genzoo.sample import main as sample_main
from tests.launch import torchrun

ROOT = Path(__file__).resolve().parent.parent

TINY = {  # one small instance of every architecture that samples
    "fvsbn": {"image_shape": (1, 3, 4)},
    "nade": {"image_shape": (1, 3, 4), "hidden": 5},
    "made": {"image_shape": (1, 3, 4), "hidden": 6, "num_masks": 3, "order": "random", "direct": True},
    "deepnade": {"image_shape": (1, 3, 4), "hidden": 6, "num_orderings": 2},
    "pixelcnn": {"grid": (3, 4), "channels": 8, "blocks": 1, "output_channels": 8, "first_kernel": 3},
    "gated_pixelcnn": {"grid": (3, 4), "channels": 8, "layers": 2, "output_channels": 8, "first_kernel": 3},
    "transformer": {"grid": (3, 4), "dim": 16, "heads": 2, "layers": 2},
    "fourier1d": {"num_frequencies": 4, "channels": 2},
    "gmm1d": {"components": 3},
    "deep_factorized1d": {"filters": (2,)},
    "ign": {"width": 4, "metric_samples": 0},
    "gan": {"width": 4, "metric_samples": 0},
}


def test_every_sampling_architecture_is_covered():
    import genzoo

    samplers = {name for name in genzoo.list_models() if create_model(name, **TINY.get(name, {})).has_sampler}
    assert samplers == set(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_model_samples_under_bf16_autocast(name):
    torch.manual_seed(0)
    model = create_model(name, **TINY[name]).eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x = model.sample(7, generator=torch.Generator().manual_seed(1))
    assert x.shape[0] == 7 and torch.isfinite(x.float()).all()
    if name in ("fvsbn", "nade", "made", "deepnade", "pixelcnn", "gated_pixelcnn", "transformer"):
        assert set(x.unique().tolist()) <= {0.0, 1.0}
        assert torch.isfinite(model.log_prob(x.float())).all()


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_sample_counts_that_are_not_positive_integers_are_refused(name, n):
    with pytest.raises(ValueError, match="number of samples must be an integer >= 1"):
        create_model(name, **TINY[name]).sample(n)


@pytest.mark.parametrize("name", ["ign"])  # any family: the chunks, not the model, make it hold
def test_two_processes_sample_what_one_process_samples(tmp_path, name):
    torch.manual_seed(0)
    model = create_model(name, **TINY[name])
    path = save_pretrained(model, tmp_path / f"{name}.safetensors")
    args = ["--model", str(path), "--n", "50", "--chunk-size", "8", "--seed", "3"]
    sample_main([*args, "--out", str(tmp_path / "one.npz")])
    torchrun(ROOT / "genzoo" / "sample.py", *args, "--out", tmp_path / "two.npz")
    one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    assert one["samples"].shape == (50, *model.sample(1).shape[1:])
    assert np.array_equal(one["samples"], two["samples"])
    # sample i depends on (seed, chunk size, i) only: fewer samples are a prefix of more
    sample_main([*args[:3], "20", *args[4:], "--out", str(tmp_path / "prefix.npz")])
    assert np.array_equal(np.load(tmp_path / "prefix.npz")["samples"], one["samples"][:20])


def test_npz_of_a_model_without_sampler_is_a_clear_error(tmp_path):
    path = save_pretrained(create_model("vqvae", channels=4, res_blocks=0, codebook_size=16, code_dim=2),
                           tmp_path / "vq.safetensors")
    with pytest.raises(SystemExit, match="has no sampler; --out x.png writes its preview"):
        sample_main(["--model", str(path), "--out", str(tmp_path / "x.npz")])


def test_a_density_preview_is_a_plot_not_a_strip_of_pixels(tmp_path):
    from PIL import Image

    from genzoo.data import Toy1DData

    model = create_model("fourier1d", num_frequencies=4)
    path = save_pretrained(model, tmp_path / "f.safetensors", dataset=Toy1DData(target="gmm10").to_dict())
    out = sample_main(["--model", str(path), "--out", str(tmp_path / "density.png")])
    width, height = Image.open(out).size
    assert width > 500 and height > 300  # matplotlib's figure (11 x 4 inches at 100 dpi)
