from PIL import Image

from genzoo import create_model, save_pretrained
from genzoo.sample import main as sample_main


def test_sample_command_writes_a_grid(tmp_path):
    path = save_pretrained(create_model("made", hidden=16), tmp_path / "made.safetensors")
    out = sample_main(["--model", str(path), "--n", "16", "--seed", "1", "--out", str(tmp_path / "grid.png")])
    image = Image.open(out)
    assert image.size == (4 * 28 + 5 * 2, 4 * 28 + 5 * 2)  # 4 x 4 images with 2-pixel padding
