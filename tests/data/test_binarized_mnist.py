import hashlib

import pytest
import torch

from genzoo.data import BinarizedMNISTData, MNISTData, binarized_mnist
from genzoo.data.root import DataNotFoundError, find_files
from tests.conftest import needs_binarized_mnist, needs_mnist


@needs_binarized_mnist
def test_static_splits_shapes_values_and_cache():
    for split, size in binarized_mnist.SPLIT_SIZES.items():
        data = BinarizedMNISTData(binarization="static").load(split)
        assert data.data.shape == (size, 1, 28, 28) and data.data.dtype == torch.uint8
        assert set(data.data.unique().tolist()) == {0, 1}
        assert 0.12 < data.data.float().mean() < 0.15  # MNIST ink share
    cached = list((binarized_mnist.cache_dir() / "binarized_mnist").glob("*.npy"))
    assert len(cached) == 3
    again = binarized_mnist.load_static("test")  # now from the bit-packed cache
    assert torch.equal(again, BinarizedMNISTData().load("test").data)


@needs_binarized_mnist
def test_batches_reach_models_as_float_binary():
    split = BinarizedMNISTData().load("valid")
    x = split.to_float(split.images()[:5])
    assert x.dtype == torch.float32 and x.shape == (5, 1, 28, 28)


def test_sha1_mismatch_is_an_error():
    with pytest.raises(ValueError, match="sha1"):
        binarized_mnist.parse_amat(b"0 1 0\n", "train")


def test_parse_amat_on_text_with_the_right_digest(monkeypatch):
    text = b"0 1 1\n1 0 0\n"
    monkeypatch.setitem(binarized_mnist.SHA1, "valid", hashlib.sha1(text).hexdigest())
    monkeypatch.setitem(binarized_mnist.SPLIT_SIZES, "valid", 1)
    with pytest.raises(ValueError, match="6 values, expected 1 x 784"):
        binarized_mnist.parse_amat(text, "valid")


def test_missing_files_error_names_files_and_places(tmp_path, monkeypatch):
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))

    def offline(target):
        raise OSError("network unreachable")

    with pytest.raises(DataNotFoundError) as info:
        find_files(["binarized_mnist/x.amat"], root=tmp_path / "explicit", download=offline)
    message = str(info.value)
    for part in ("binarized_mnist/x.amat", "explicit", "env", "cache", "network unreachable"):
        assert part in message


def test_explicit_root_comes_first(tmp_path, monkeypatch):
    for place in ("a", "b"):
        (tmp_path / place / "d").mkdir(parents=True)
        (tmp_path / place / "d" / "f").write_text(place)
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "b"))
    assert find_files(["d/f"], root=tmp_path / "a") == tmp_path / "a"
    assert find_files(["d/f"]) == tmp_path / "b"


@needs_mnist
def test_dynamic_binarization_redraws_each_epoch_and_fixes_eval_splits():
    train = BinarizedMNISTData(binarization="dynamic").load("train", seed=3)
    assert len(train) == 50000
    e0, e1 = train.images(0).clone(), train.images(1)
    assert set(e0.unique().tolist()) == {0, 1}
    assert 0.01 < (e0 != e1).float().mean() < 0.2  # a fresh draw, of the same digits
    assert torch.equal(BinarizedMNISTData(binarization="dynamic").load("train", seed=3).images(0), e0)
    valid = BinarizedMNISTData(binarization="dynamic").load("valid", seed=0)
    assert len(valid) == 10000
    assert torch.equal(valid.data, BinarizedMNISTData(binarization="dynamic").load("valid", seed=99).data)
    intensities = binarized_mnist.load_dynamic_intensities("valid")
    # pixels of intensity 0 / 255 are always 0 / 1: the valid split is drawn from the last 10000 train images
    assert torch.all(valid.data[intensities == 0] == 0) and torch.all(valid.data[intensities == 255] == 1)
    assert len(BinarizedMNISTData(binarization="dynamic").load("test")) == 10000


@needs_mnist
def test_grey_mnist_in_unit_interval():
    split = MNISTData().load("test")
    x = split.to_float(split.images()[:100])
    assert x.min() == 0 and x.max() == 1 and len(split) == 10000


def test_a_silent_server_times_out_into_the_error_that_names_every_place(tmp_path, monkeypatch):
    """A network that accepts and never answers used to hang load_split forever."""
    import socket
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)  # the kernel completes the handshake; nobody ever answers
    monkeypatch.setattr(binarized_mnist, "SOURCE", f"http://127.0.0.1:{server.getsockname()[1]}/{{split}}.amat")
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GENZOO_DOWNLOAD_TIMEOUT", "0.5")
    start = time.perf_counter()
    try:
        with pytest.raises(DataNotFoundError, match=r"download failed: .*timed out.*Looked in: .*empty.*cache"):
            BinarizedMNISTData().load("test")
    finally:
        server.close()
    assert time.perf_counter() - start < 10
