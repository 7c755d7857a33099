import pytest
import torch

from genzoo import create_model
from genzoo.data import BinarizedMNISTData, MNISTData
from genzoo.evaluate import END, START, record_test_head, replace_rows, write_readme
from genzoo.results import Report, markdown
from tests.conftest import needs_binarized_mnist


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
                "88.40 (Germain et al. 2015, 1 hidden layer, 1 mask) |")
    fsq_row = f"| `fsq-mnist` | FSQ [8, 5, 5, 5] | {fsq.num_parameters():,} | mnist | 0.01235 | 20.50 | 98.7% | 800.2 | 0.0100 |"
    assert made_row in text and fsq_row in text and text.index(made_row) < text.index(fsq_row)


def test_named_checkpoints_replace_their_rows_only(tmp_path):
    readme = tmp_path / "README.md"
    header, rule = "| checkpoint | nll |", "|---|---:|"
    other = "| `x` | t | 1 |"
    readme.write_text(f"intro\n{START}\n{header}\n{rule}\n| `a` | 1.0 |\n| `b` | 2.0 |\n\n{other}\n{END}\nend\n")
    replace_rows(f"{header}\n{rule}\n| `b` | 1.5 |", readme)
    assert readme.read_text() == (f"intro\n{START}\n{header}\n{rule}\n| `a` | 1.0 |\n| `b` | 1.5 |\n\n{other}\n"
                                  f"{END}\nend\n")
    # a checkpoint new to this table gets a row at its end; the row of that name in another table is untouched
    replace_rows(f"{header}\n{rule}\n| `x` | 3.0 |", readme)
    assert readme.read_text() == (f"intro\n{START}\n{header}\n{rule}\n| `a` | 1.0 |\n| `b` | 1.5 |\n| `x` | 3.0 |\n\n"
                                  f"{other}\n{END}\nend\n")
    with pytest.raises(ValueError, match="no results table headed"):
        replace_rows("| checkpoint | mse |\n|---|---:|\n| `a` | 0.1 |", readme)


def test_missing_markers_are_an_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="markers"):
        write_readme("table", readme)


@needs_binarized_mnist
def test_record_test_head_adds_the_first_examples_metrics_only_to_weights_that_still_match(tmp_path):
    from accelerate import Accelerator

    from genzoo import save_pretrained
    from genzoo.checkpoint import read_metadata
    from genzoo.evaluation import TEST_HEAD, evaluate

    torch.manual_seed(0)
    model = create_model("fvsbn", image_shape=(1, 28, 28)).eval()
    data = BinarizedMNISTData()
    test = data.load("test")
    accelerator = Accelerator(cpu=True)
    true_nll = evaluate(model, test, accelerator)["nll"]
    stale = save_pretrained(model, tmp_path / "stale.safetensors", metrics={"test_nll": true_nll * 1.001},
                            dataset=data.to_dict())
    with pytest.raises(ValueError, match="differ from those recorded"):
        record_test_head(str(stale), accelerator)
    assert "test_head1000_nll" not in read_metadata(stale)["metrics"]

    good = save_pretrained(model, tmp_path / "good.safetensors", metrics={"test_nll": true_nll},
                           dataset=data.to_dict())
    head = record_test_head(str(good), accelerator)
    expected = evaluate(model, test, accelerator, first=TEST_HEAD)["nll"]
    assert head == {"test_head1000_nll": pytest.approx(expected, rel=1e-12)}
    assert read_metadata(good)["metrics"]["test_head1000_nll"] == pytest.approx(expected, rel=1e-12)
    assert expected != pytest.approx(true_nll, rel=1e-6)  # the head is not the whole split

    short = record_test_head(str(good), accelerator, head=100)  # a slow model's shorter head, beside the first
    assert short == {"test_head100_nll": pytest.approx(evaluate(model, test, accelerator, first=100)["nll"], rel=1e-12)}
    assert {"test_head100_nll", "test_head1000_nll"} <= set(read_metadata(good)["metrics"])
    with pytest.raises(ValueError, match="head=0"):
        record_test_head(str(good), accelerator, head=0)
