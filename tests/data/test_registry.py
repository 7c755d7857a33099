"""The dataset registry: names -> dataset configs with their own options; labelled digits; code grids."""
from __future__ import annotations

import pytest
import torch

from genzoo import create_model, save_pretrained
from genzoo.data import BinarizedMNISTData, CodeGridData, MNISTData, Splits, Toy1DData, dataset_from_dict, list_datasets
from tests.conftest import needs_mnist


def test_sections_build_their_own_dataset_config():
    assert {"binarized_mnist", "mnist", "toy1d", "code_grids"} <= set(list_datasets())
    assert dataset_from_dict({"name": "toy1d", "target": "laplace"}) == Toy1DData(target="laplace")
    assert dataset_from_dict(None) == BinarizedMNISTData()  # the default dataset
    assert BinarizedMNISTData(binarization="dynamic").to_dict() == {
        "name": "binarized_mnist", "binarization": "dynamic", "root": None}
    assert dataset_from_dict(Toy1DData(target="beta").to_dict()) == Toy1DData(target="beta")


def test_options_of_one_dataset_are_unknown_to_another():
    with pytest.raises(ValueError, match="unknown config key 'target' in section 'data'"):
        dataset_from_dict({"name": "binarized_mnist", "target": "gmm10"})
    with pytest.raises(ValueError, match="unknown dataset 'cifar10'; datasets: binarized_mnist"):
        dataset_from_dict({"name": "cifar10"})


def test_with_root_only_touches_datasets_with_files(tmp_path):
    assert MNISTData().with_root(str(tmp_path)).root == str(tmp_path)
    assert Toy1DData().with_root(str(tmp_path)) == Toy1DData()


def test_splits_load_once_and_only_known_names():
    splits = Splits(Toy1DData(target="laplace"))
    assert splits["test"] is splits["test"] and len(splits["valid"]) == 10000
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        splits["dev"]


@needs_mnist
def test_labelled_mnist_batches_are_images_and_digits():
    split = MNISTData(labels=True).load("test")
    images, labels = split.head(10000)
    assert images.shape == (10000, 1, 28, 28) and images.dtype == torch.float32 and images.max() == 1.0
    assert labels.dtype == torch.int64 and torch.bincount(labels).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # the published test-set label counts
    assert isinstance(MNISTData().load("test").head(3), torch.Tensor)  # unlabelled: images alone


@needs_mnist
def test_code_grids_come_from_the_autoencoder_file_and_are_cached_by_its_hash(tmp_path, monkeypatch):
    torch.manual_seed(0)
    vq = create_model("vqvae", channels=4, res_blocks=0, codebook_size=16, code_dim=2).eval()
    path = save_pretrained(vq, tmp_path / "vq.safetensors", dataset=MNISTData().to_dict())
    grids = CodeGridData(autoencoder=str(path)).load("valid")
    assert grids.data.shape == (10000, 7, 7) and grids.num_classes == 16
    assert torch.equal(grids.data[:5], vq.encode(MNISTData().load("valid").head(5)))

    import genzoo.checkpoint

    def no_encoding(*args, **kwargs):
        raise AssertionError("the cached grids should have been used")

    monkeypatch.setattr(genzoo.checkpoint, "load_pretrained", no_encoding)
    assert torch.equal(CodeGridData(autoencoder=str(path)).load("valid").data, grids.data)
    monkeypatch.undo()
    with torch.no_grad():  # another file under the same name: new hash, new grids
        for p in vq.encoder.parameters():
            p.add_(torch.randn_like(p))
    save_pretrained(vq, path, dataset=MNISTData().to_dict())
    assert not torch.equal(CodeGridData(autoencoder=str(path)).load("valid").data, grids.data)
