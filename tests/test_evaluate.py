import pytest

from genzoo.evaluate import END, START, markdown, write_readme


def test_table_is_written_between_the_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nold table\n{END}\noutro\n")
    rows = [{"name": "made-binmnist", "architecture": "made", "params": 785284, "dataset": "binarized_mnist (static)",
             "test": {"nll": 88.123}, "valid": {"nll": 90.5}, "paper": "88.40", "quantizer": ""},
            {"name": "fsq-mnist", "architecture": "vqvae", "params": 1000, "dataset": "mnist", "paper": "",
             "test": {"mse": 0.0123456, "psnr": 20.5, "usage": 0.987, "perplexity": 800.25, "quant_error": 0.01},
             "valid": {"mse": 0.0124}, "quantizer": "FSQ [8, 5, 5, 5]"}]
    write_readme(markdown(rows), readme)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old table" not in text
    assert "| `made-binmnist` | made | 785,284 | binarized_mnist (static) | 88.12 | 90.50 | 88.40 |" in text
    assert "| `fsq-mnist` | FSQ [8, 5, 5, 5] | 1,000 | mnist | 0.01235 | 20.50 | 98.7% | 800.2 | 0.0100 |" in text


def test_missing_markers_are_an_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="markers"):
        write_readme("table", readme)
