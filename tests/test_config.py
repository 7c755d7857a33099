import pytest

from genzoo.cli import build_run
from genzoo.config import load_yaml_config, parse_overrides


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
    from genzoo.data import DataConfig
    from genzoo.training import TrainConfig

    with pytest.raises(ValueError, match="mixed_precision"):
        TrainConfig(mixed_precision="fp8")
    with pytest.raises(ValueError, match="binarization"):
        DataConfig(binarization="otsu")


def test_shipped_configs_build():
    from pathlib import Path

    configs = sorted(Path(__file__).resolve().parent.parent.glob("configs/*.yaml"))
    assert configs, "no configs shipped"
    for path in configs:
        build_run(load_yaml_config(path))
