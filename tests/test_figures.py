"""The docs' pictures: learning curves from a run's log or a file's recorded history."""
import json

import pytest
from PIL import Image

from genzoo import create_model, save_pretrained
from genzoo.checkpoint import read_metadata
from genzoo.figures import curve_plot, main
from genzoo.run_log import learning_curve


def test_the_learning_curve_of_a_log_keeps_training_and_valid_records_without_the_final_one(tmp_path):
    log = tmp_path / "run" / "log.jsonl"
    log.parent.mkdir()
    records = [{"step": 1, "loss": 3.0, "lr": 0.1, "epoch": 0}, {"step": 2, "loss": 2.0, "lr": 0.1, "epoch": 0},
               {"step": 2, "valid_nll": 2.5}, {"step": 2, "final": {"test_nll": 2.4}}]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert learning_curve(log) == records[:3]
    assert learning_curve(tmp_path / "missing.jsonl") == []

    png = main(["--log", str(log), "--out", str(tmp_path / "curve.png")])[0]
    assert Image.open(png).size[0] > 100
    assert curve_plot([{"step": 1, "lr": 0.1}], tmp_path / "none.png", "x") is None  # nothing to plot
    assert not (tmp_path / "none.png").exists()
    assert curve_plot([{"step": 1, "valid_kid": 3.0}], tmp_path / "kid.png", "x", metrics=("fid",)) is None
    with pytest.raises(SystemExit):
        main(["--log", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "m.png")])


def test_a_saved_file_keeps_its_history_and_older_files_read_as_none(tmp_path):
    model = create_model("fvsbn", image_shape=(1, 2, 2))
    history = [{"step": 1, "loss": 2.0}, {"step": 1, "valid_nll": 2.1}]
    assert read_metadata(save_pretrained(model, tmp_path / "a.safetensors", history=history))["history"] == history
    assert read_metadata(save_pretrained(model, tmp_path / "b.safetensors"))["history"] == []


def test_curve_limits_leave_out_the_first_steps_spike():
    from genzoo.plotting import settled_range

    curves = {"loss": [(10, 300.0), (50, 120.0), (100, 90.0), (200, 82.0)], "valid_nll": [(100, 88.0), (200, 81.0)]}
    low, high = settled_range(curves)
    assert low < 81.0 and 120.0 < high < 130.0  # step 10 (under 10% of 200) is left out, step 50 kept
    assert settled_range({"loss": []}) is None


def test_a_log_with_class_histograms_plots_them_beside_the_curve(tmp_path):
    log = tmp_path / "gan" / "log.jsonl"
    log.parent.mkdir()
    balanced, collapsed = [0.1] * 10, [0.0] * 9 + [1.0]
    records = [{"step": 1, "loss": 3.0}, {"step": 1, "valid_fid": 300.0, "valid_class_shares": balanced},
               {"step": 2, "valid_fid": 200.0, "valid_class_shares": collapsed}, {"step": 2, "note": ["a"]}]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    curve = learning_curve(log)
    assert curve[1]["valid_class_shares"] == balanced and curve[3] == {"step": 2}  # lists of numbers only
    curve_png, classes_png = main(["--log", str(log), "--out", str(tmp_path / "gan.png")])
    assert classes_png == tmp_path / "gan-classes.png" and Image.open(classes_png).size[0] > 100
    assert Image.open(curve_png).size[0] > 100  # the list did not enter the curve
    no_classes = tmp_path / "nll" / "log.jsonl"
    no_classes.parent.mkdir()
    no_classes.write_text(json.dumps({"step": 1, "valid_nll": 2.0}) + "\n")
    assert len(main(["--log", str(no_classes), "--out", str(tmp_path / "nll.png")])) == 1
