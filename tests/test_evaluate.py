import pytest

from genzoo.evaluate import END, START, markdown, write_readme


def test_table_is_written_between_the_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nold table\n{END}\noutro\n")
    rows = [{"name": "made-binmnist", "architecture": "made", "params": 785284, "dataset": "binarized_mnist (static)",
             "test_nll": 88.123, "valid_nll": 90.5, "paper": "88.40"}]
    write_readme(markdown(rows), readme)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old table" not in text
    assert "| `made-binmnist` | made | 785,284 | binarized_mnist (static) | 88.12 | 90.50 | 88.40 |" in text


def test_missing_markers_are_an_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="markers"):
        write_readme("table", readme)
