import pytest

from genzoo.cli import build_run
from genzoo.config import config_from_dict, load_yaml_config, parse_overrides


def test_parse_overrides_nested_and_typed():
    assert parse_overrides(["train.lr=0.0003", "model.hidden=1000", "data.binarization=dynamic", "model.image_shape=[1,2,5]"]) == {
        "train": {"lr": 3e-4}, "model": {"hidden": 1000, "image_shape": [1, 2, 5]}, "data": {"binarization": "dynamic"}}


def test_override_malformed():
    with pytest.raises(ValueError, match="section.key=value"):
        parse_overrides(["train.lr"])


def test_config_file_with_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  name: made\n  hidden: 500\ntrain:\n  lr: 1.0e-3\n  max_steps: 10\n")
    config = load_yaml_config(path, ["train.lr=3e-4", "model.hidden=1000"])
    model, data, train = build_run(config)
    assert model.config.hidden == 1000 and train.lr == pytest.approx(3e-4) and train.max_steps == 10
    assert data.name == "binarized_mnist"


@pytest.mark.parametrize("override, message", [
    ("train.lrr=1", "unknown config key 'lrr' in section 'train'"),
    ("model.hiden=3", "unknown config key 'hiden'"),
    ("data.binarisation=static", "unknown config key 'binarisation' in section 'data'"),
    ("trian.lr=1", "unknown config section 'trian'"),
])
def test_unknown_keys_are_named(tmp_path, override, message):
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  name: made\ndata: {}\ntrain: {}\n")
    with pytest.raises(ValueError, match=message):
        build_run(load_yaml_config(path, [override]))


def test_bad_values_are_named():
    from genzoo.data import BinarizedMNISTData
    from genzoo.training import TrainConfig

    with pytest.raises(ValueError, match="mixed_precision"):
        TrainConfig(mixed_precision="fp8")
    with pytest.raises(ValueError, match="binarization"):
        BinarizedMNISTData(binarization="otsu")


def test_shipped_configs_build():
    from pathlib import Path

    configs = sorted(Path(__file__).resolve().parent.parent.glob("configs/*.yaml"))
    assert configs, "no configs shipped"
    for path in configs:
        build_run(load_yaml_config(path))


@pytest.mark.parametrize("override, message", [
    ("train.lr=abc", r"train.lr='abc': expected a number > 0"),
    ("train.max_steps=2.5", r"train.max_steps=2.5: expected an integer >= 1"),
    ("train.max_steps=0", r"train.max_steps=0: expected an integer >= 1"),
    ("train.ema_decay=1.0", r"train.ema_decay=1.0: expected a number >= 0 and < 1"),
    ("train.cpu=yes please", r"train.cpu='yes please': expected true or false"),
    ("train.mixed_precision=fp8", r"train.mixed_precision='fp8': expected one of 'no', 'fp16', 'bf16' or null"),
    ("train.adam_betas=[0.9]", r"train.adam_betas=\[0.9\]: expected a list of 2"),
    ("model.hidden=-3", r"model.hidden=-3: expected an integer >= 0"),
    ("model.order=zigzag", r"model.order='zigzag': expected one of 'natural', 'random'"),
    ("data.binarization=otsu", r"data.binarization='otsu': expected one of 'static', 'dynamic'"),
    ("data.name=cifar", r"unknown dataset 'cifar'"),
])
def test_ill_typed_values_name_key_value_and_type(tmp_path, override, message):
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  name: made\ndata: {}\ntrain: {}\n")
    with pytest.raises(ValueError, match=message):
        build_run(load_yaml_config(path, [override]))


def test_values_are_converted_where_unambiguous():
    from genzoo.training import TrainConfig

    config = TrainConfig(lr="3e-4", max_steps=10000, adam_betas=[0.5, 0.9], weight_decay=0)  # YAML 1.1 strings
    assert config.lr == 3e-4 and config.max_steps == 10000 and isinstance(config.max_steps, int)
    with pytest.raises(ValueError, match=r"train.max_steps=10000.0: expected an integer"):  # a float is no count
        config_from_dict(TrainConfig, {"max_steps": 1e4}, where="train")
    assert config.adam_betas == (0.5, 0.9) and isinstance(config.weight_decay, float)


@pytest.mark.parametrize("override", ["train.mixed_precision=no", "train.mixed_precision=No",
                                      "train.mixed_precision='no'"])
def test_a_choice_yaml_reads_as_a_bool_is_the_word_written(tmp_path, override):
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  name: made\ndata: {}\ntrain: {}\n")
    assert build_run(load_yaml_config(path, [override]))[2].mixed_precision == "no"
    with pytest.raises(ValueError, match=r"train.mixed_precision=True: expected one of 'no', 'fp16', 'bf16'"):
        build_run(load_yaml_config(path, ["train.mixed_precision=yes"]))  # no choice is spelled yes


def test_create_model_checks_types():
    import genzoo

    with pytest.raises(ValueError, match=r"model.hidden='500': expected an integer >= 0"):
        genzoo.create_model("made", hidden="500")
    with pytest.raises(ValueError, match=r"image_shape=\[1, 0, 5\]"):
        genzoo.create_model("nade", image_shape=[1, 0, 5])


def test_help_lists_every_key_with_its_default(capsys):
    from genzoo.cli import train_main

    with pytest.raises(SystemExit):
        train_main(["-h"])
    text = capsys.readouterr().out
    for line in ("train.lr = 0.001   (a number > 0)", "train.mixed_precision = null", "data.binarization = static",
                 "model.name = made:", "model.hidden = 500   (an integer >= 0)", "data.name = toy1d:"):
        assert line in text, line


def test_a_model_name_that_is_no_string_and_a_float_count_are_named():
    import genzoo

    with pytest.raises(TypeError, match="expected a model name .* got int 5"):
        genzoo.create_model(5)
    with pytest.raises(ValueError, match=r"model.num_frequencies=3.0: expected an integer >= 1"):
        genzoo.create_model("fourier1d", num_frequencies=3.0)


@pytest.mark.parametrize("text, overrides, message", [
    ("model:\n  name: made\ndata: [1, 2]\ntrain: {}\n", [], r"section 'data' must be a mapping .* list \[1, 2\]"),
    ("model:\n  name: made\ndata: {}\ntrain: {}\n", ["model=3"], r"section 'model' must be a mapping .* int 3"),
    ("model:\n  name: made\ndata: {}\ntrain: 5\n", [], r"section 'train' must be a mapping .* int 5"),
])
def test_config_sections_of_the_wrong_kind_are_named(tmp_path, text, overrides, message):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        build_run(load_yaml_config(path, overrides))
