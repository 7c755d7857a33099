"""The sample metrics in the shipped classifier's feature space, on real digits: zero for a set against itself,
growing with pixel noise; the metrics command scores a sample file."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from genzoo.registry import list_pretrained
from tests.conftest import needs_mnist

pytestmark = [needs_mnist, pytest.mark.skipif("mnist-classifier" not in list_pretrained(),
                                                reason="mnist-classifier not shipped")]


def test_frechet_distance_is_zero_for_the_test_digits_themselves_and_grows_with_pixel_noise():
    from genzoo.data import MNISTData
    from genzoo.metrics import classifier_outputs, frechet_distance, load_classifier

    classifier = load_classifier()
    digits = MNISTData().load("test").head(1000)
    real, _ = classifier_outputs(classifier, digits)
    assert abs(frechet_distance(real, real)) < 1e-6 * real.pow(2).sum(1).mean()
    g = torch.Generator().manual_seed(0)
    distances = [frechet_distance(real, classifier_outputs(
        classifier, (digits + sigma * torch.randn(digits.shape, generator=g)).clamp(0, 1))[0])
        for sigma in (0.05, 0.1, 0.2, 0.4)]
    assert distances == sorted(distances) and distances[0] > 0


def test_the_metrics_command_scores_a_sample_file(tmp_path):
    from genzoo.data import MNISTData
    from genzoo.metrics.__main__ import main

    digits = MNISTData().load("train").head(500)
    np.savez(tmp_path / "digits.npz", samples=digits.numpy())
    table = main(["--samples", str(tmp_path / "digits.npz"), "--json", str(tmp_path / "m.json")])
    assert table.count("\n") == 2 and "digits.npz" in table
    metrics = __import__("json").loads((tmp_path / "m.json").read_text())["digits.npz"]
    assert metrics["n"] == 500 and metrics["classes"] == 10 and metrics["precision"] > 0.5


@pytest.mark.skipif("vqvae-ste-mnist" not in list_pretrained(), reason="vqvae-ste-mnist not shipped")
def test_the_metrics_command_scores_against_the_split_it_is_asked_for(tmp_path, monkeypatch):
    """--against valid: digits of the valid split score FID 0 against it and more against the test digits (each
    split cut to its first 600 digits, to keep the test fast)."""
    import genzoo.metrics.__main__ as command

    whole = command.mnist_images
    monkeypatch.setattr(command, "mnist_images", lambda split, root=None: tuple(t[:600] for t in whole(split, root)))
    np.savez(tmp_path / "valid.npz", samples=command.mnist_images("valid")[0].numpy())
    fid = {}
    for split in ("valid", "test"):
        command.main(["--samples", str(tmp_path / "valid.npz"), "--against", split,
                      "--json", str(tmp_path / f"{split}.json")])
        fid[split] = __import__("json").loads((tmp_path / f"{split}.json").read_text())["valid.npz"]["fid"]
    assert abs(fid["valid"]) < 1e-3 and fid["test"] > 1.0


def test_reconstructions_of_the_scored_digits_score_closer_than_reconstructions_of_others(tmp_path):
    from genzoo.metrics.__main__ import main

    main(["--reconstructions", "vqvae-ste-mnist", "--splits", "test", "train", "--n", "500",
          "--json", str(tmp_path / "m.json")])
    metrics = __import__("json").loads((tmp_path / "m.json").read_text())
    test, train = (metrics[f"vqvae-ste-mnist, reconstructions of {s} digits"] for s in ("test", "train"))
    assert test["n"] == train["n"] == 500 and test["classes"] == train["classes"] == 10
    # reconstructions of the very digits scored against: closer than reconstructions of other digits
    assert 0 < test["fid"] < train["fid"] and test["precision"] > 0.9


def test_reconstructions_of_a_model_that_does_not_reconstruct_is_an_error():
    from genzoo.metrics.__main__ import reconstructions

    with pytest.raises(ValueError, match="'mnist-classifier' is a .* which reconstructs no images"):
        reconstructions("mnist-classifier", "test", 10)


def test_sample_quality_keeps_the_class_histogram_of_each_application():
    from types import SimpleNamespace

    from genzoo.data import MNISTData
    from genzoo.metrics.quality import SampleQuality

    digits = MNISTData().load("test").head(300)  # (300, 1, 28, 28)
    split = SimpleNamespace(batch=lambda index: digits[index])
    one = digits[:1].expand(200, -1, -1, -1)
    draws = torch.stack([digits[:200], one, one], 1)  # (200, 3, 1, 28, 28): f once digits, twice one digit
    scores = SampleQuality("mnist-classifier", 200)._scores(draws, split, steps=2)
    once, twice = scores["class_shares"], scores["class_shares_2"]
    assert len(once) == len(twice) == 10 and sum(once) == pytest.approx(1.0) and max(once) < 0.3
    assert sorted(twice)[-2:] == [0.0, 1.0] and scores["max_class_share_2"] == 1.0


def test_class_matched_digits_share_the_samples_classes_and_their_cost(tmp_path):
    """Real digits of two classes only, scored with --class-matched: the matched real digits have the same class
    shares and about the same FID (both are real digits, equally unbalanced), far above balanced digits'."""
    from genzoo.data import MNISTData
    from genzoo.metrics.__main__ import main, mnist_images

    images, labels = mnist_images("test")
    two_classes = torch.cat([images[labels == 1][:300], images[labels == 7][:200]])  # (500, 1, 28, 28)
    np.savez(tmp_path / "ones_sevens.npz", samples=two_classes.numpy())
    np.savez(tmp_path / "balanced.npz", samples=MNISTData().load("train").head(500).numpy())
    table = main(["--samples", str(tmp_path / "ones_sevens.npz"), "--class-matched",
                  "--json", str(tmp_path / "m.json")])  # as many matched digits as samples, whatever --n says
    metrics = __import__("json").loads((tmp_path / "m.json").read_text())
    samples, matched = metrics["ones_sevens.npz"], metrics["real train digits at the class shares of ones_sevens.npz"]
    assert "real train digits at the class shares" in table and matched["n"] == 500
    assert max(abs(a - b) for a, b in zip(samples["class_shares"], matched["class_shares"])) < 0.02
    main(["--samples", str(tmp_path / "balanced.npz"), "--json", str(tmp_path / "b.json")])
    balanced = __import__("json").loads((tmp_path / "b.json").read_text())["balanced.npz"]
    assert matched["fid"] > 5 * balanced["fid"]
    assert 0.5 < matched["fid"] / samples["fid"] < 2


def test_class_matched_without_samples_is_an_error():
    from genzoo.metrics.__main__ import main

    with pytest.raises(SystemExit):
        main(["--calibrate", "--class-matched"])


def test_a_prior_is_scored_at_a_temperature_and_other_models_refuse_one(tmp_path):
    from genzoo.metrics.__main__ import main

    table = main(["--model", "vq-prior-mnist", "--n", "64", "--temperature", "1", "0.8", "--cpu",
                  "--json", str(tmp_path / "m.json")])
    assert "vq-prior-mnist at temperature 1 | 64 |" in table and "vq-prior-mnist at temperature 0.8 | 64 |" in table
    with pytest.raises(ValueError, match="'ign-mnist' .* samples at no temperature"):
        main(["--model", "ign-mnist", "--n", "8", "--temperature", "0.8", "--cpu"])
    with pytest.raises(SystemExit):
        main(["--calibrate", "--temperature", "0.8"])
