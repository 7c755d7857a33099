import pytest
import torch

from genzoo import create_model
from genzoo.data import BinarizedMNISTData, MNISTData
from genzoo.evaluate import END, START, write_readme
from genzoo.results import Report, markdown


def test_tables_come_from_the_families_and_are_written_between_the_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nold table\n{END}\noutro\n")
    torch.manual_seed(0)
    made = create_model("made", image_shape=(1, 4, 4), hidden=5)
    fsq = create_model("vqvae", quantizer="fsq", channels=4, res_blocks=0)
    reports = [  # autoencoder first: the likelihood table still comes first (its declared order)
        Report("fsq-mnist", fsq, MNISTData(), {"mse": 0.0123456, "psnr": 20.5, "usage": 0.987, "perplexity": 800.25,
                                               "quant_error": 0.01}),
        Report("made-binmnist", made, BinarizedMNISTData(), {"nll": 88.123}, {"metrics": {"valid_nll": 90.5}})]
    write_readme(markdown(reports), readme)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old table" not in text
    made_row = (f"| `made-binmnist` | made | {made.num_parameters():,} | binarized_mnist (static) | 88.12 | 90.50 | "
                "88.40 (Germain et al. 2015, 1 mask) |")
    fsq_row = f"| `fsq-mnist` | FSQ [8, 5, 5, 5] | {fsq.num_parameters():,} | mnist | 0.01235 | 20.50 | 98.7% | 800.2 | 0.0100 |"
    assert made_row in text and fsq_row in text and text.index(made_row) < text.index(fsq_row)


def test_missing_markers_are_an_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="markers"):
        write_readme("table", readme)
