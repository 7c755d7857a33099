"""VQ-VAE: shapes, code grids out and back in, split metrics, checkpoints, the shared training loop."""
from __future__ import annotations

import pytest
import torch

from genzoo import create_model, load_pretrained, save_pretrained
from genzoo.data import ImageSplit
from genzoo.models.vq import export_codes, load_codes
from tests.conftest import needs_mnist
from tests.launch import assert_one_run_logged, torchrun

VARIANTS = {
    "ste": {"estimator": "ste"},
    "rotation": {"estimator": "rotation", "ema_decay": 0.0},
    "fsq": {"quantizer": "fsq", "codebook_size": 256},
}


def tiny(variant: str):
    torch.manual_seed(0)
    vq_only = {"code_dim": 4} if VARIANTS[variant].get("quantizer", "vq") == "vq" else {}
    overrides = {"channels": 8, "res_blocks": 1, "codebook_size": 32, **vq_only, **VARIANTS[variant]}
    return create_model("vqvae", **overrides)


def images(n=6, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_encode_decode_shapes_and_consistency(variant):
    model = tiny(variant).eval()
    x = images()
    indices = model.encode(x)
    assert indices.shape == (6, 7, 7) and indices.dtype == torch.int64
    assert 0 <= indices.min() and indices.max() < model.codebook_size
    x_hat = model.decode_indices(indices)
    assert x_hat.shape == x.shape and 0 <= x_hat.min() and x_hat.max() <= 1
    torch.testing.assert_close(x_hat, model.reconstruct(x), rtol=0, atol=1e-6)  # indices carry everything


@pytest.mark.parametrize("variant", ["ste", "fsq"])
def test_code_grids_export_and_reimport(tmp_path, variant):
    model = tiny(variant).eval()
    split = ImageSplit((images(13) * 255).to(torch.uint8), scale=255.0)
    path = export_codes(model, split, tmp_path / "codes.safetensors", source="tiny")
    grids, meta = load_codes(path)
    assert meta["codebook_size"] == model.codebook_size and meta["source"] == "tiny"
    assert torch.equal(grids, model.encode(split.to_float(split.images())))


def test_load_codes_refuses_other_files(tmp_path):
    model = tiny("ste")
    path = save_pretrained(model, tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match="code-grid"):
        load_codes(path)


def test_split_metrics_count_codes_over_the_whole_split():
    model = tiny("ste").eval()
    x = images(10)
    with torch.no_grad():
        per_image = model.evaluation_metrics(x)
    summary = model.summarize_metrics({k: v.double().mean(0) for k, v in per_image.items()})
    indices = model.encode(x)
    counts = torch.bincount(indices.flatten(), minlength=model.codebook_size).double()
    p = counts[counts > 0] / counts.sum()
    assert summary["usage"] == pytest.approx((counts > 0).double().mean().item())
    assert summary["perplexity"] == pytest.approx(torch.exp(-(p * p.log()).sum()).item(), rel=1e-6)
    mse = ((model.reconstruct(x) - x) ** 2).mean().item()
    assert summary["mse"] == pytest.approx(mse, rel=1e-5)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_checkpoint_round_trip_gives_identical_reconstructions(tmp_path, variant):
    model = tiny(variant).train()
    model.loss(images(8))  # k-means init and one EMA update: buffers that must travel too
    path = save_pretrained(model.eval(), tmp_path / "m.safetensors")
    loaded = load_pretrained(path, architecture="vqvae")
    assert torch.equal(loaded.encode(images()), model.encode(images()))
    torch.testing.assert_close(loaded.reconstruct(images()), model.reconstruct(images()), rtol=0, atol=0)
    with pytest.raises(ValueError, match="not 'made'"):
        load_pretrained(path, architecture="made")


@pytest.mark.parametrize("bad, message", [
    (torch.rand(2, 28, 28), "shape"),
    (torch.rand(2, 1, 32, 32), "shape"),
    (torch.full((2, 1, 28, 28), 2.0), r"\[0, 1\]"),
    (torch.full((2, 1, 28, 28), float("nan")), "finite"),
])
def test_bad_images_raise_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        tiny("ste").encode(bad)


def test_bad_config_and_sample():
    with pytest.raises(ValueError, match="quantizer"):
        create_model("vqvae", quantizer="lfq")
    with pytest.raises(ValueError, match="1000 codes"):
        create_model("vqvae", quantizer="fsq", levels=(8, 5, 5, 5), codebook_size=512)
    create_model("vqvae", quantizer="fsq", levels=(8, 5, 5, 5), codebook_size=1024)  # the preset's nominal size
    with pytest.raises(NotImplementedError, match="prior"):
        tiny("ste").sample(4)


def test_bf16_autocast_training_step_is_finite():
    model = tiny("rotation").train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, metrics = model.loss(images(8))
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


TRAIN_ARGS = ["model.channels=8", "model.res_blocks=1", "model.codebook_size=32", "model.code_dim=4",
              "train.max_steps=4", "train.eval_every=2", "train.save_every=2", "train.batch_size=16",
              "train.preview_images=8", "train.log_every=1"]


@needs_mnist
def test_train_script_runs_in_two_processes(tmp_path):
    """train/vq.py under torchrun: DDP training with all-reduced codebook statistics, gathered metrics, one export."""
    out = tmp_path / "ddp"
    torchrun("train/vq.py", "--config", "configs/vqvae_rotation_mnist.yaml", *TRAIN_ARGS, f"train.output_dir={out}")
    model = load_pretrained(out / "model.safetensors")
    metrics = model.pretrained_metadata["metrics"]
    assert 0 < metrics["test_mse"] < 1 and 0 < metrics["test_usage"] <= 1
    assert (out / "samples" / "step_00000004.png").is_file()
    states = sorted((out / "checkpoints").glob("step_*"))
    assert states[-1].name == "step_00000004"
    assert_one_run_logged(out, steps=4)  # one two-rank run, not two one-process runs in one folder


@pytest.mark.parametrize("overrides, message", [
    ({"quantizer": "fsq", "estimator": "ste"}, r"model.estimator apply to quantizer: vq only"),
    ({"quantizer": "fsq", "code_dim": 8, "beta": 0.5}, r"model.code_dim, model.beta apply to quantizer: vq only"),
    ({"quantizer": "vq", "levels": (8, 5)}, r"model.levels applies to quantizer: fsq only"),
    ({"channels": 0}, r"model.channels=0: expected an integer >= 1"),
    ({"beta": -1.0}, r"model.beta=-1.0"),
    ({"codebook_size": 2**20}, r"model.codebook_size=1048576: expected an integer >= 2 and <= 65536"),
])
def test_options_that_do_not_apply_or_cannot_work_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        create_model("vqvae", **overrides)
