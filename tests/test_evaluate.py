import struct

import pytest
import torch
from accelerate import Accelerator

from genzoo import create_model, save_pretrained
from genzoo.data import BinarizedMNISTData, MNISTData, Toy1DData
from genzoo.doc_tables import markers, page_with, replace_rows, write_block
from genzoo.evaluate import CheckFailed, check, main, measure, record_test_head, short_forms
from genzoo.evaluation import evaluate
from genzoo.results import Report, markdown, summary_markdown
from tests.conftest import needs_binarized_mnist

START, END = markers("results")


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
    write_block("results", markdown(reports), readme)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old table" not in text
    made_row = (f"| `made-binmnist` | made | {made.num_parameters():,} | binarized_mnist (static) | 88.12 | 90.50 | "
                "88.40 (Germain et al. 2015, 1 hidden layer, 1 mask) |")
    fsq_row = (f"| `fsq-mnist` | FSQ [8, 5, 5, 5] | {fsq.num_parameters():,} | mnist | 0.01235 | 20.50 | 98.7% | 800.2 "
               "| 0.0100 |")
    assert made_row in text and fsq_row in text and text.index(made_row) < text.index(fsq_row)
    # the front page's one table: each checkpoint's headline beside its paper, declared by its family
    summary = summary_markdown(reports)
    assert summary.splitlines()[0].startswith("| checkpoint | architecture |")
    assert "| NLL 88.12 nats | 88.40 (Germain et al. 2015, 1 hidden layer, 1 mask) |" in summary
    assert "| MSE 0.01235, PSNR 20.50 dB, 98.7% of the codes used | - |" in summary


def test_named_checkpoints_replace_their_rows_only(tmp_path):
    readme = tmp_path / "README.md"
    header, rule = "| checkpoint | nll |", "|---|---:|"
    other = "| `x` | t | 1 |"
    readme.write_text(f"intro\n{START}\n{header}\n{rule}\n| `a` | 1.0 |\n| `b` | 2.0 |\n\n{other}\n{END}\nend\n")
    replace_rows("results", f"{header}\n{rule}\n| `b` | 1.5 |", readme)
    assert readme.read_text() == (f"intro\n{START}\n{header}\n{rule}\n| `a` | 1.0 |\n| `b` | 1.5 |\n\n{other}\n"
                                  f"{END}\nend\n")
    # a checkpoint new to this table gets a row at its end; the row of that name in another table is untouched
    replace_rows("results", f"{header}\n{rule}\n| `x` | 3.0 |", readme)
    assert readme.read_text() == (f"intro\n{START}\n{header}\n{rule}\n| `a` | 1.0 |\n| `b` | 1.5 |\n| `x` | 3.0 |\n\n"
                                  f"{other}\n{END}\nend\n")
    with pytest.raises(ValueError, match="no table headed"):
        replace_rows("results", "| checkpoint | mse |\n|---|---:|\n| `a` | 0.1 |", readme)
    # new columns: the table is replaced whole once every one of its rows is given, not before
    wider = "| checkpoint | steps | nll |\n|---|---:|---:|\n| `a` | 5 | 0.9 |\n| `b` | 6 | 1.4 |\n| `x` | 7 | 2.9 |"
    replace_rows("results", wider, readme)
    assert readme.read_text() == f"intro\n{START}\n{wider}\n\n{other}\n{END}\nend\n"
    # every row of a table re-measured: written whole, in the order given (a full rebuild's)
    again = "| checkpoint | steps | nll |\n|---|---:|---:|\n| `x` | 7 | 2.8 |\n| `a` | 5 | 0.9 |\n| `b` | 6 | 1.4 |"
    replace_rows("results", again, readme)
    assert readme.read_text() == f"intro\n{START}\n{again}\n\n{other}\n{END}\nend\n"


def test_a_table_is_found_in_the_one_page_holding_its_markers(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("front page\n")
    page = tmp_path / "docs" / "benchmarks.md"
    page.write_text(f"# Benchmarks\n{markers('speed')[0]}\nold\n{markers('speed')[1]}\n")
    assert page_with("speed", tmp_path) == page
    with pytest.raises(ValueError, match="no page holds the markers <!-- nowhere:start -->"):
        page_with("nowhere", tmp_path)
    (tmp_path / "README.md").write_text(page.read_text())
    with pytest.raises(ValueError, match="more than one page"):
        page_with("speed", tmp_path)


def test_missing_markers_are_an_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="markers"):
        write_block("results", "table", readme)


def _density_checkpoint(tmp_path, **recorded) -> tuple[str, float, float]:
    """A small Fourier density on the gmm10 target, saved with its true whole-split and head test NLL (plus
    ``recorded`` entries that override them): (path, whole-split NLL, head NLL)."""
    torch.manual_seed(0)
    model = create_model("fourier1d", num_frequencies=4).eval()
    data = Toy1DData(target="gmm10")
    accelerator = Accelerator(cpu=True)
    whole = evaluate(model, data.load("test"), accelerator)["nll"]
    head = evaluate(model, data.load("test"), accelerator, first=100)["nll"]
    metrics = {"test_nll": whole, "test_head100_nll": head, **recorded}
    return str(save_pretrained(model, tmp_path / "d.safetensors", metrics=metrics, dataset=data.to_dict())), whole, head


def test_the_check_re_measures_the_head_and_tables_the_recorded_whole_split(tmp_path):
    path, whole, head = _density_checkpoint(tmp_path)
    result = check(path, Accelerator(cpu=True))
    assert result.checked == ["tensors sha256", "first 100 test examples"]
    assert result.report.test == {"nll": whole}  # the recorded whole-split number, not the head's
    assert short_forms(result.report.model.pretrained_metadata["metrics"]) == {"head": 100}
    assert measure(result, Accelerator(cpu=True)).report.test["nll"] == pytest.approx(whole, rel=1e-9)
    assert result.checked[-1] == "whole test split"


def test_a_file_with_one_tensor_byte_flipped_fails_its_check_naming_the_file(tmp_path):
    path, _, _ = _density_checkpoint(tmp_path)
    raw = bytearray(open(path, "rb").read())
    header = struct.unpack("<Q", raw[:8])[0]
    raw[8 + header + 5] ^= 0x01  # a byte of the first tensor's data
    open(path, "wb").write(bytes(raw))
    with pytest.raises(CheckFailed, match=r"d\.safetensors.*(sha256|hash)"):
        main([path])


def test_metrics_that_moved_fail_the_check_naming_the_metric(tmp_path):
    path, whole, head = _density_checkpoint(tmp_path, test_head100_nll=1.0)
    with pytest.raises(CheckFailed, match=r"d\.safetensors.*test_head100_nll .* 1 recorded"):
        main([path])
    # the head agrees but the whole split does not: the quick check passes, --full fails
    moved, _, _ = _density_checkpoint(tmp_path, test_nll=whole + 0.01)
    main([moved])  # no error
    with pytest.raises(CheckFailed, match="whole test split does not give what it recorded: test_nll"):
        main(["--full", moved])


def test_a_file_without_a_recorded_head_is_refused_with_the_command_that_adds_one(tmp_path):
    torch.manual_seed(0)
    model = create_model("fourier1d", num_frequencies=4)
    path = save_pretrained(model, tmp_path / "bare.safetensors", metrics={"test_nll": 1.0},
                           dataset=Toy1DData(target="gmm10").to_dict())
    with pytest.raises(CheckFailed, match="records no test head.*--record-test-head"):
        check(str(path), Accelerator(cpu=True))


@needs_binarized_mnist
def test_record_test_head_adds_the_first_examples_metrics_only_to_weights_that_still_match(tmp_path):
    from genzoo.checkpoint import read_metadata
    from genzoo.evaluation import TEST_HEAD

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


def test_sample_metrics_are_checked_at_the_tolerance_a_discrete_sampler_allows():
    from genzoo.evaluate import disagreements

    recorded = {"test_samples1000_fid": 385.55, "test_samples1000_precision": 0.671, "test_nll": 85.0}
    moved_by_rounding = {"fid": 386.0, "precision": 0.670}  # 3 threads against 1, measured
    assert disagreements(moved_by_rounding, recorded, "test_samples1000_", sampled=True) == []
    assert len(disagreements(moved_by_rounding, recorded, "test_samples1000_")) == 2  # not per-example metrics
    broken = disagreements({"fid": 390.0, "precision": 0.6}, recorded, "test_samples1000_", sampled=True)
    assert [d.split()[0] for d in broken] == ["test_samples1000_fid", "test_samples1000_precision"]
    assert disagreements({"nll": 85.01}, recorded, "test_") == ["test_nll 85.01 now, 85 recorded"]


def test_a_recorded_class_histogram_is_checked_entry_by_entry_and_one_never_recorded_is_not_required():
    from genzoo.evaluate import disagreements

    recorded = {"test_samples1000_class_shares": [0.5, 0.5]}
    assert disagreements({"class_shares": [0.501, 0.499]}, recorded, "test_samples1000_", sampled=True) == []
    assert len(disagreements({"class_shares": [0.6, 0.4]}, recorded, "test_samples1000_", sampled=True)) == 1
    assert len(disagreements({"class_shares": [0.5, 0.5, 0.0]}, recorded, "test_samples1000_", sampled=True)) == 1
    assert disagreements({"class_shares": [0.6, 0.4]}, {}, "test_", sampled=True) == []  # an older file


def test_every_table_marker_of_the_checkout_lies_in_one_page_and_every_bench_finds_its_own():
    """The commands name markers, never pages: each marker pair is in exactly one page, and each marker a bench
    writes (its MARKER, or the name it passes to publish) is among them."""
    import re

    from genzoo.doc_tables import CHECKOUT, pages

    found = {}
    for page in pages():
        for name in re.findall(r"<!-- ([a-z0-9-]+):start -->", page.read_text()):
            found.setdefault(name, []).append(page.name)
            assert page_with(name) == page
    assert all(len(where) == 1 for where in found.values()), found
    benches = "\n".join(p.read_text() for p in (CHECKOUT / "bench").glob("*.py"))
    named = set(re.findall(r'MARKER = "([a-z0-9-]+)"', benches))
    named |= set(re.findall(r'"([a-z0-9-]+)",\s*(?:args\.)?write_readme', benches))  # publish(..., "name", ...)
    assert named and named <= set(found), named - set(found)
    assert {"results", "models"} <= set(found)


def test_remeasure_replaces_the_first_samples_metrics_even_where_the_whole_split_agrees(tmp_path, monkeypatch):
    """A re-draw whose whole split agrees with the recorded metrics within tolerance while its first samples'
    differ from those recorded (any difference: add_metrics compares exactly). Without --remeasure the recorded
    values stay (an error names the metric); with it they are replaced and the whole split's recorded values kept."""
    import types

    import genzoo.evaluate as evaluate_module
    from genzoo.checkpoint import read_metadata

    path, _, _ = _density_checkpoint(tmp_path, test_fid=100.0, test_samples10_fid=50.0)
    model = types.SimpleNamespace(metric_samples=20, pretrained_metadata=read_metadata(path))
    monkeypatch.setattr(evaluate_module, "_load", lambda name, root: (model, None, None))
    drawn = {20: {"fid": 100.0001}, 10: {"fid": 60.0}}
    monkeypatch.setattr(evaluate_module, "drawn_sample_metrics", lambda m, split, acc, n: drawn[n])
    with pytest.raises(ValueError, match="test_samples10_fid"):
        evaluate_module.record_test_samples(path, None, samples=10)
    assert read_metadata(path)["metrics"]["test_samples10_fid"] == 50.0
    evaluate_module.record_test_samples(path, None, samples=10, remeasure=True)
    metrics = read_metadata(path)["metrics"]
    assert metrics["test_samples10_fid"] == 60.0 and metrics["test_fid"] == 100.0
