from PIL import Image

from genzoo import create_model, save_pretrained
from genzoo.sample import main as sample_main


def test_sample_command_writes_a_grid(tmp_path):
    path = save_pretrained(create_model("made", hidden=16), tmp_path / "made.safetensors")
    out = sample_main(["--model", str(path), "--n", "16", "--seed", "1", "--out", str(tmp_path / "grid.png")])
    image = Image.open(out)
    assert image.size == (4 * 28 + 5 * 2, 4 * 28 + 5 * 2)  # 4 x 4 images with 2-pixel padding


def test_console_scripts_exit_with_status_zero(tmp_path, monkeypatch):
    """A console script hands its function's return value to sys.exit: anything but None is a failure status."""
    from importlib import import_module
    from pathlib import Path

    import tomllib

    scripts = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == {"genzoo-train", "genzoo-sample", "genzoo-evaluate", "genzoo-metrics"}
    module, name = scripts["genzoo-sample"].split(":")
    path = save_pretrained(create_model("nade", image_shape=(1, 2, 3), hidden=3), tmp_path / "nade.safetensors")
    monkeypatch.setattr("sys.argv", ["genzoo-sample", "--model", str(path), "--n", "4", "--out", str(tmp_path / "x.png")])
    assert getattr(import_module(module), name)() is None and (tmp_path / "x.png").is_file()
    for target in scripts.values():  # every entry point resolves
        module, name = target.split(":")
        assert callable(getattr(import_module(module), name))
