import json
import struct

import pytest
import torch

from genzoo import create_model, load_pretrained, save_pretrained
from genzoo.checkpoint import add_metrics, read_metadata, round_to_storage_dtype_

SMALL = (1, 2, 5)


@pytest.mark.parametrize("name, overrides", [
    ("fvsbn", {}), ("nade", {"hidden": 6}), ("made", {"hidden": 8, "layers": 2, "num_masks": 3, "order": "random"})])
def test_round_trip_gives_identical_log_prob(tmp_path, name, overrides):
    model = create_model(name, image_shape=SMALL, **overrides).eval()
    path = save_pretrained(model, tmp_path / "m.safetensors", metrics={"test_nll": 1.5}, dataset={"name": "toy"})
    loaded = load_pretrained(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    x = (torch.rand(16, *SMALL) < 0.5).float()
    assert torch.equal(loaded.log_prob(x), model.log_prob(x))
    meta = read_metadata(path)
    assert meta["architecture"] == name and meta["metrics"] == {"test_nll": 1.5}
    assert meta["config"]["image_shape"] == list(SMALL) and meta["dataset"] == {"name": "toy"}
    assert "genzoo_version" in meta and "train_config" in meta


def test_loading_as_another_architecture_fails_clearly(tmp_path):
    path = save_pretrained(create_model("nade", image_shape=SMALL, hidden=4), tmp_path / "nade.safetensors")
    with pytest.raises(ValueError, match="holds a 'nade' checkpoint, not 'made'"):
        load_pretrained(path, architecture="made")


def test_tensors_that_do_not_fit_the_config_fail_clearly(tmp_path):
    path = save_pretrained(create_model("nade", image_shape=SMALL, hidden=4), tmp_path / "nade.safetensors")
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    config = json.loads(header["__metadata__"]["config"])
    config["hidden"] = 5  # the metadata now promises another shape than the tensors have
    header["__metadata__"]["config"] = json.dumps(config)
    new = json.dumps(header).encode()
    new += b" " * ((8 - len(new) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + n :])
    with pytest.raises(ValueError, match="do not fit a 'nade'"):
        load_pretrained(path)


def test_damaged_file_fails_clearly(tmp_path):
    path = save_pretrained(create_model("fvsbn", image_shape=SMALL), tmp_path / "f.safetensors")
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_pretrained(path)


def test_foreign_safetensors_file_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="not a genzoo checkpoint"):
        load_pretrained(tmp_path / "x.safetensors")


def test_float16_storage_halves_the_file_and_loads_exactly_the_rounded_weights(tmp_path):
    from safetensors import safe_open

    torch.manual_seed(0)
    model = create_model("made", hidden=40, num_masks=2, order="random").eval()
    full = save_pretrained(model, tmp_path / "full.safetensors")
    half = save_pretrained(model, tmp_path / "half.safetensors", dtype=torch.float16)
    assert half.stat().st_size < 0.55 * full.stat().st_size
    with safe_open(str(half), framework="pt") as fh:
        stored = {k: fh.get_tensor(k).dtype for k in fh.keys()}
    assert {k: v for k, v in stored.items() if v.is_floating_point} == {
        k: torch.float16 for k, v in model.state_dict().items() if v.is_floating_point()}
    # orders and degrees (< 784) stored as int16, the mask counter (0) as int8; loaded back as the model's int64
    assert {k: v for k, v in stored.items() if not v.is_floating_point} == {
        "positions": torch.int16, "degrees": torch.int16, "mask_step": torch.int8}
    loaded = load_pretrained(half)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert all(torch.equal(loaded.get_buffer(k), model.get_buffer(k)) and loaded.get_buffer(k).dtype == torch.int64
               for k in ("positions", "degrees", "mask_step"))
    x = (torch.rand(8, 1, 28, 28) < 0.3).float()
    assert not torch.equal(loaded.log_prob(x), model.log_prob(x))  # float16 did round the weights ...
    round_to_storage_dtype_(model, torch.float16)
    assert torch.equal(loaded.log_prob(x), model.log_prob(x))  # ... to exactly what rounding in place gives


def test_save_is_atomic_no_temporary_left(tmp_path):
    save_pretrained(create_model("fvsbn", image_shape=SMALL), tmp_path / "f.safetensors")
    assert [p.name for p in tmp_path.iterdir()] == ["f.safetensors"]


def test_add_metrics_keeps_the_stored_tensors_and_never_changes_a_recorded_value(tmp_path):
    from safetensors.torch import load_file

    torch.manual_seed(0)
    model = create_model("made", image_shape=SMALL, hidden=7, num_masks=2, order="random").eval()
    path = save_pretrained(model, tmp_path / "m.safetensors", metrics={"test_nll": 2.5}, dtype=torch.float16)
    before = load_file(str(path))
    add_metrics(path, {"test_head1000_nll": 2.25, "test_nll": 2.5})  # an equal value is no change
    after = load_file(str(path))
    assert before.keys() == after.keys()
    assert all(before[k].dtype == after[k].dtype and torch.equal(before[k], after[k]) for k in before)
    assert read_metadata(path)["metrics"] == {"test_nll": 2.5, "test_head1000_nll": 2.25}
    x = torch.randint(0, 2, (4, *SMALL)).float()
    assert torch.equal(load_pretrained(path).log_prob(x), load_pretrained(path).log_prob(x))
    with pytest.raises(ValueError, match="test_nll"):
        add_metrics(path, {"test_nll": 2.0})
    assert read_metadata(path)["metrics"]["test_nll"] == 2.5
    add_metrics(path, {"test_nll": 2.0}, replace=True)  # a re-measurement asked for by name
    assert read_metadata(path)["metrics"]["test_nll"] == 2.0


def test_add_metrics_refuses_a_file_whose_tensors_changed(tmp_path):
    path = save_pretrained(create_model("fvsbn", image_shape=SMALL), tmp_path / "f.safetensors")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # the last byte of the tensor data
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="content hash"):
        add_metrics(path, {"test_head1000_nll": 1.0})


def test_replace_history_records_a_curve_and_keeps_the_tensors_and_metrics(tmp_path):
    from safetensors.torch import load_file

    from genzoo.checkpoint import replace_history
    from genzoo.run_log import continued_curve

    path = save_pretrained(create_model("fvsbn", image_shape=SMALL), tmp_path / "f.safetensors", metrics={"a": 1.0},
                           history=[{"step": 1, "loss": 3.0}])
    before = load_file(str(path))
    curve = continued_curve([{"step": 10, "loss": 5.0}], read_metadata(path)["history"])
    replace_history(path, curve)
    assert read_metadata(path)["history"] == [{"step": 10, "loss": 5.0}, {"step": 11, "loss": 3.0}]
    assert read_metadata(path)["metrics"] == {"a": 1.0}
    assert all(torch.equal(before[k], t) for k, t in load_file(str(path)).items())
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="content hash"):
        replace_history(path, [])


@pytest.mark.parametrize("name", __import__("genzoo").list_pretrained())
def test_shipped_checkpoint_metrics_are_reproduced(name):
    """Each shipped file loads by name, carries its metrics, and passes the check of ``python -m genzoo.evaluate``
    (the end of ``make demo``): its tensor hash, and its metrics on the first test examples and, for a model
    scored by its samples, on its first 1000 samples, as recorded (``--full`` recomputes the whole splits)."""
    from accelerate import Accelerator

    from genzoo.data import DataNotFoundError, pretrained_dataset
    from genzoo.evaluate import check, short_forms

    model = load_pretrained(name)
    meta = model.pretrained_metadata
    metric = model.selection_metric
    assert meta["architecture"] == model.architecture
    if metric is not None:
        assert {f"test_{metric}", f"valid_{metric}"} <= set(meta["metrics"])
    else:  # trained without best-on-valid selection: the final weights' metrics on both splits
        assert any(k.startswith("test_") for k in meta["metrics"]) and any(k.startswith("valid_") for k in meta["metrics"])
    forms = short_forms(meta["metrics"])
    assert "head" in forms and ("samples" in forms) == (model.metric_samples > 0)
    try:
        pretrained_dataset(model).load("test")
    except DataNotFoundError as exc:
        pytest.skip(f"test data not found: {exc}")
    result = check(name, Accelerator(cpu=True))  # raises CheckFailed naming the metric that moved
    assert result.checked[0] == "tensors sha256" and len(result.checked) == 1 + len(forms)


def test_hugging_face_layout_round_trip(tmp_path):
    """save_pretrained(model, folder) writes config.json + model.safetensors; genzoo and the mixin load it."""
    from genzoo.models.autoregressive import MADE

    torch.manual_seed(0)
    model = create_model("made", image_shape=SMALL, hidden=7, num_masks=2, order="random").eval()
    folder = save_pretrained(model, tmp_path / "hub", metrics={"test_nll": 2.0})
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["architecture"] == "made" and config["hidden"] == 7 and config["image_shape"] == list(SMALL)
    x = (torch.rand(5, *SMALL) < 0.5).float()
    for loaded in (load_pretrained(folder), MADE.from_pretrained(str(folder))):
        assert type(loaded) is MADE and torch.equal(loaded.log_prob(x), model.log_prob(x))
    assert load_pretrained(folder).pretrained_metadata["metrics"] == {"test_nll": 2.0}
    with pytest.raises(ValueError, match="holds a 'made' checkpoint, not 'nade'"):
        __import__("genzoo").models.autoregressive.NADE.from_pretrained(str(folder))


def test_the_mixins_save_pretrained_writes_genzoos_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = create_model("nade", image_shape=SMALL, hidden=3).eval()
    model.save_pretrained(tmp_path / "mixin")  # huggingface_hub's method: what push_to_hub uploads
    loaded = load_pretrained(tmp_path / "mixin")
    x = (torch.rand(4, *SMALL) < 0.5).float()
    assert torch.equal(loaded.log_prob(x), model.log_prob(x)) and loaded.pretrained_metadata["architecture"] == "nade"


def test_device_strings_with_an_index_load(tmp_path):
    path = save_pretrained(create_model("fvsbn", image_shape=SMALL), tmp_path / "f.safetensors")
    assert load_pretrained(path, device="cpu:0").device == torch.device("cpu")


def test_a_folder_without_weights_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="without model.safetensors"):
        load_pretrained(tmp_path / "empty")


def test_shipped_weights_are_package_data():
    """The checkpoints live inside the package and pyproject ships them, so a non-editable install has them."""
    from pathlib import Path

    import tomllib

    import genzoo
    from genzoo.registry import CHECKPOINT_DIR

    package = Path(genzoo.__file__).resolve().parent
    assert CHECKPOINT_DIR.parent == package and genzoo.list_pretrained()
    pyproject = tomllib.loads((package.parent / "pyproject.toml").read_text())
    assert "checkpoints/*.safetensors" in pyproject["tool"]["setuptools"]["package-data"]["genzoo"]


def _rewrite(path, change):
    """Re-save ``path`` with ``change(tensors)`` applied, keeping its metadata; ``rehash`` makes the hash fit."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as fh:
        meta, tensors = dict(fh.metadata()), {k: fh.get_tensor(k) for k in fh.keys()}
    rehash = change(tensors)
    if rehash:
        from genzoo.checkpoint import tensors_sha256

        meta["tensors_sha256"] = tensors_sha256(tensors)
    save_file(tensors, str(path), metadata=meta)


def test_flipped_tensor_bytes_are_detected(tmp_path):
    path = save_pretrained(create_model("nade", image_shape=SMALL, hidden=4), tmp_path / "n.safetensors")
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x10  # one bit of the last tensor's data: the file still parses
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="do not match the content hash"):
        load_pretrained(path)


def test_non_finite_weights_are_refused(tmp_path):
    path = save_pretrained(create_model("nade", image_shape=SMALL, hidden=4), tmp_path / "n.safetensors")

    def poison(tensors):
        tensors["W"][0, 0] = float("nan")
        return True  # a consistent hash: only the finiteness check can catch it

    _rewrite(path, poison)
    with pytest.raises(ValueError, match="non-finite weights in W"):
        load_pretrained(path)


def test_an_order_buffer_that_disagrees_with_the_config_is_refused(tmp_path):
    path = save_pretrained(create_model("made", image_shape=SMALL, hidden=6, order="random"), tmp_path / "m.safetensors")

    def swap_order(tensors):
        tensors["positions"] = tensors["positions"].flip(-1).contiguous()
        return True

    _rewrite(path, swap_order)
    with pytest.raises(ValueError, match="buffer 'positions' is not what the config gives"):
        load_pretrained(path)


def test_a_file_without_a_content_hash_is_named(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    path = save_pretrained(create_model("fvsbn", image_shape=SMALL), tmp_path / "f.safetensors")
    with safe_open(str(path), framework="pt") as fh:
        meta, tensors = dict(fh.metadata()), {k: fh.get_tensor(k) for k in fh.keys()}
    del meta["tensors_sha256"]
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(ValueError, match="no tensors_sha256"):
        load_pretrained(path)


def test_training_cost_counts_every_piece_or_says_it_does_not_know():
    from genzoo.checkpoint import training_cost

    first = {"metrics": {"step": 300, "train_seconds": 12.5}, "train_config": {}}
    assert training_cost(first) == (300, 12.5)
    totals = {"metrics": {"step": 100, "train_seconds": 4.0, "steps_total": 400, "train_seconds_total": 16.5},
              "train_config": {"init_from": "a"}}
    assert training_cost(totals) == (400, 16.5)
    continued = {"metrics": {"step": 100, "train_seconds": 4.0}, "train_config": {"init_from": "a"},
                 "history": [{"step": 300}, {"step": 400}]}  # the source's curve, then this piece's shifted
    assert training_cost(continued) == (400, None)  # a piece's own seconds are not the cost
    alone = {**continued, "history": [{"step": 50}, {"step": 100}]}  # this piece's curve only
    assert training_cost(alone) == (None, None)


def test_a_continued_curve_starts_at_the_weights_it_started_from():
    from genzoo.run_log import continued_curve

    source = [{"step": 5, "loss": 3.0}, {"step": 8, "valid_nll": 2.0}, {"step": 10, "valid_nll": 2.5}]
    piece = [{"step": 1, "loss": 1.0}, {"step": 2, "valid_nll": 1.5}]
    # the source exported its best step, 8: its records past it are not where the piece started
    assert continued_curve(source, piece, 8) == [source[0], source[1], {"step": 9, "loss": 1.0},
                                                 {"step": 10, "valid_nll": 1.5}]
    assert [r["step"] for r in continued_curve(source, piece)] == [5, 8, 10, 11, 12]  # start unknown: its last


def test_a_curve_exported_along_a_chain_of_warm_starts_is_rebuilt_from_its_files(tmp_path):
    from genzoo.checkpoint import rebuilt_history
    from genzoo.evaluate import main

    models = [create_model("fvsbn", image_shape=SMALL) for _ in range(3)]
    with torch.no_grad():
        for i, model in enumerate(models):
            model.net[0].weight.add_(float(i))  # three files with three tensors hashes

    def step(n, **kw):
        return {"step": n, "loss": float(n), **kw}

    # as exports before the fix wrote them: each curve its source's, then its own shifted by the source's last step
    first = [step(5), step(8, valid_nll=2.0), step(10, valid_nll=2.5)]  # its best, step 8, exported
    second_own = [step(1), step(4, valid_nll=1.9)]
    second = first + [{**r, "step": r["step"] + 10} for r in second_own]
    third_own = [step(2, valid_nll=1.8)]
    third = second + [{**r, "step": r["step"] + 14} for r in third_own]
    a = save_pretrained(models[0], tmp_path / "a.safetensors", metrics={"step": 8}, history=first)
    b = save_pretrained(models[1], tmp_path / "b.safetensors", metrics={"step": 4, "steps_total": 12}, history=second,
                        train_config={"init_from": "a", "init_from_sha256": read_metadata(a)["tensors_sha256"]})
    c = save_pretrained(models[2], tmp_path / "c.safetensors", metrics={"step": 2, "steps_total": 14}, history=third,
                        train_config={"init_from": "b", "init_from_sha256": read_metadata(b)["tensors_sha256"]})
    assert [r["step"] for r in rebuilt_history([a, b, c])] == [5, 8, 9, 12, 14]
    assert [r["loss"] for r in rebuilt_history([a, b, c])] == [5.0, 8.0, 1.0, 4.0, 2.0]  # the records themselves
    with pytest.raises(ValueError, match="was not warm-started from"):
        rebuilt_history([a, c])
    stray = save_pretrained(models[0], tmp_path / "s.safetensors", metrics={"step": 8}, history=[step(6)])
    with pytest.raises(ValueError, match="does not begin with"):
        rebuilt_history([stray, b])
    with pytest.raises(SystemExit, match="exactly one checkpoint"):  # the files took the name: it goes first
        main(["--rebuild-history-from", str(a), str(b), str(c)])
    main([str(c), "--rebuild-history-from", str(a), str(b)])
    assert [r["step"] for r in read_metadata(c)["history"]] == [5, 8, 9, 12, 14]


def test_a_warm_start_takes_its_totals_from_the_very_file_it_started_from(tmp_path):
    from genzoo.checkpoint import record_source_totals, training_cost

    source_model, other_model = create_model("fvsbn", image_shape=SMALL), create_model("fvsbn", image_shape=SMALL)
    with torch.no_grad():
        other_model.net[0].weight.add_(1.0)  # other tensors: another file
    source = save_pretrained(source_model, tmp_path / "a.safetensors", metrics={"step": 300, "train_seconds": 12.5})
    other = save_pretrained(other_model, tmp_path / "b.safetensors", metrics={"step": 300, "train_seconds": 12.5})
    untimed = save_pretrained(source_model, tmp_path / "c.safetensors", metrics={"step": 300})
    sha = read_metadata(source)["tensors_sha256"]
    warm = save_pretrained(source_model, tmp_path / "w.safetensors", metrics={"step": 100, "train_seconds": 4.0},
                           train_config={"init_from": "a", "init_from_sha256": sha})
    assert training_cost(read_metadata(warm)) == (None, None)  # exported without totals
    with pytest.raises(ValueError, match="is not the file .* was warm-started from"):
        record_source_totals(warm, other)
    with pytest.raises(ValueError, match="no warm start"):
        record_source_totals(source, source)
    untimed_warm = save_pretrained(source_model, tmp_path / "u.safetensors", metrics={"step": 1, "train_seconds": 1.0},
                                   train_config={"init_from": "c", "init_from_sha256": sha})
    with pytest.raises(ValueError, match="does not record its own training cost"):
        record_source_totals(untimed_warm, untimed)
    assert record_source_totals(warm, source) == {"steps_total": 400, "train_seconds_total": 16.5}
    assert training_cost(read_metadata(warm)) == (400, 16.5)
