"""Grid models as priors over an autoencoder's code grids: trained through the loop on the code_grids data,
they record the autoencoder (name and content hash), decode their samples through it, and refuse codes or
weights that are not the ones they were trained on."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest
import torch

import genzoo
from genzoo import create_model, load_pretrained, save_pretrained
from genzoo.data import DatasetConfig, ImageSplit, IndexSplit, register_dataset
from genzoo.data import registry as data_registry
from genzoo.evaluate import results
from genzoo.results import markdown

K = 16


@dataclass
class ToyDigitsData(DatasetConfig):
    """Grey 28x28 images with a bright square at a random place: enough structure for codes to vary."""

    size: int = 96

    def load(self, split, seed=0):
        g = torch.Generator().manual_seed({"train": 0, "valid": 1, "test": 2}[split])
        images = torch.zeros(self.size, 1, 28, 28)
        for i, (r, c) in enumerate(torch.randint(0, 20, (self.size, 2), generator=g).tolist()):
            images[i, :, r : r + 8, c : c + 8] = 1.0
        return ImageSplit((images * 255).to(torch.uint8), scale=255.0)


@pytest.fixture
def autoencoder(tmp_path):
    """A tiny VQ-VAE checkpoint (16 codes) trained on nothing, recorded as a model of the toy digits."""
    register_dataset("toy_digits")(ToyDigitsData)
    torch.manual_seed(0)
    model = create_model("vqvae", channels=8, res_blocks=1, codebook_size=K, code_dim=4, kmeans_init=False)
    path = save_pretrained(model, tmp_path / "tiny-vq.safetensors", dataset={"name": "toy_digits", "size": 96})
    yield path
    data_registry._DATASETS.pop("toy_digits")


def prior(autoencoder):
    """A tiny PixelCNN prior over the codes of ``autoencoder`` (the loop test trains a Transformer one)."""
    return create_model("pixelcnn", grid=(7, 7), categories=K, autoencoder=str(autoencoder), channels=8,
                        output_channels=8, blocks=1, first_kernel=3)


def train_prior(tmp_path, autoencoder, **model):
    from genzoo.cli import train_main

    config = tmp_path / "prior.yaml"
    config.write_text(json.dumps({
        "model": {"name": "transformer", "grid": [7, 7], "categories": K, "autoencoder": str(autoencoder),
                  "dim": 16, "heads": 2, "layers": 1, **model},
        "data": {"name": "code_grids", "autoencoder": str(autoencoder)},
        "train": {"output_dir": str(tmp_path / "prior"), "batch_size": 16, "max_steps": 6, "eval_every": 6,
                  "save_every": 6, "preview_images": 4, "cpu": True}}))
    return train_main(["--config", str(config)])


def test_a_prior_trains_on_the_codes_records_its_autoencoder_and_samples_images(tmp_path, autoencoder):
    result = train_prior(tmp_path, autoencoder, metric_samples=64)
    model = load_pretrained(result["path"])
    ae = load_pretrained(autoencoder)
    assert model.pretrained_metadata["depends_on"] == {
        "autoencoder": {"name": str(autoencoder), "tensors_sha256": ae.pretrained_metadata["tensors_sha256"]}}
    tokens = model.sample_tokens(5, generator=torch.Generator().manual_seed(3))
    images = model.sample(5, generator=torch.Generator().manual_seed(3))
    assert tokens.shape == (5, 7, 7) and images.shape == (5, 1, 28, 28)
    assert torch.equal(images, ae.decode_indices(tokens))  # the samples are the decoded codes
    assert {"test_nll", "test_fid", "test_precision", "test_classes"} <= set(result["metrics"])
    reports = [c.report for c in results([str(result["path"])], full=True)]  # the results command
    code_table, quality_table = markdown(reports).split("\n\n")
    header, _, row = code_table.splitlines()
    assert "uniform prior H*W ln K" in header and "classifier FID" in quality_table.splitlines()[0]
    cells = [cell.strip() for cell in row.split("|")[1:-1]]
    assert cells[7] == f"{49 * math.log(K):.2f}"  # the uniform prior of a 7x7 grid of 16 codes
    assert abs(float(cells[5]) - 49 * math.log(K)) < 10  # a few steps stay near the uniform prior


def test_a_prior_refuses_an_autoencoder_whose_weights_changed(autoencoder):
    model = prior(autoencoder)
    assert model.sample(2).shape == (2, 1, 28, 28)
    torch.manual_seed(1)
    other = create_model("vqvae", channels=8, res_blocks=1, codebook_size=K, code_dim=4, kmeans_init=False)
    save_pretrained(other, autoencoder, dataset={"name": "toy_digits", "size": 96})
    reloaded = create_model("pixelcnn", **genzoo.checkpoint.config_to_dict(model.config))
    reloaded.load_state_dict(model.state_dict())  # the recorded hash is the old weights'
    with pytest.raises(ValueError, match="retrain the prior"):
        reloaded.sample(2)


def test_a_prior_refuses_data_that_are_not_its_autoencoders_codes(autoencoder):
    model = prior(autoencoder)
    digest = genzoo.checkpoint.read_metadata(autoencoder)["tensors_sha256"]
    grids = torch.randint(K, (8, 7, 7))
    model.fit_data(IndexSplit(grids, K, source={"autoencoder": "x", "tensors_sha256": digest}))  # accepted
    with pytest.raises(ValueError, match="prior over the codes"):
        model.fit_data(IndexSplit(grids, K, source={"autoencoder": "other", "tensors_sha256": "0" * 64}))
    with pytest.raises(ValueError, match="prior over the codes"):
        model.fit_data(ImageSplit(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), scale=1.0))
    with pytest.raises(ValueError, match="categories = 16"):
        model.fit_data(IndexSplit(grids, K + 1, source={"tensors_sha256": digest}))
    with pytest.raises(ValueError, match=r"codes in \[0, 16\)"):
        model.log_prob(torch.full((1, 7, 7), K))
