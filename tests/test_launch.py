"""Mixed precision from the launcher or the config, and precisions the device cannot run."""
from __future__ import annotations

import json

import pytest

from genzoo.data import BinarizedMNISTData, Splits
from genzoo.launch import make_accelerator
from genzoo.training import TrainConfig, train
from tests.conftest import needs_binarized_mnist
from tests.test_training import config, tiny_made


def test_the_launchers_precision_is_used_unless_the_config_sets_one(monkeypatch):
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")  # what `accelerate launch --mixed_precision bf16` sets
    assert make_accelerator(None, cpu=True).mixed_precision == "bf16"


def test_the_configs_precision_wins(monkeypatch):
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")
    assert make_accelerator("no", cpu=True).mixed_precision == "no"


def test_fp16_on_the_cpu_is_an_error_not_float32():
    with pytest.raises(ValueError, match="fp16 needs a GPU"):
        make_accelerator("fp16", cpu=True)


@needs_binarized_mnist
def test_a_bf16_launch_trains_in_bf16_and_records_it(tmp_path, monkeypatch):
    def first_loss(name):
        cfg = config(tmp_path / name, max_steps=1, eval_every=1, save_every=1, ema_decay=0.0, preview_images=0)
        result = train(tiny_made(), Splits(BinarizedMNISTData()), cfg)
        records = [json.loads(line) for line in (tmp_path / name / "run" / "log.jsonl").read_text().splitlines()]
        from genzoo import load_pretrained

        recorded = load_pretrained(result["path"]).pretrained_metadata["train_config"]["mixed_precision"]
        return next(r["loss"] for r in records if "loss" in r), recorded

    fp32_loss, fp32_recorded = first_loss("fp32")
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    bf16_loss, bf16_recorded = first_loss("bf16")
    assert (fp32_recorded, bf16_recorded) == ("no", "bf16")
    assert bf16_loss != fp32_loss and bf16_loss == pytest.approx(fp32_loss, rel=1e-2)


def test_train_config_defaults_leave_precision_to_the_launcher():
    assert TrainConfig().mixed_precision is None


def test_float32_turns_a_bf16_accelerators_autocast_off_and_back_on():
    """Exports measure in float32 what the check re-measures, whatever autocast the run trained under."""
    import torch
    from accelerate import Accelerator

    from genzoo.launch import float32

    accelerator = Accelerator(mixed_precision="bf16", cpu=True)
    a = torch.randn(8, 8)

    def product_dtype():
        with accelerator.autocast():
            return (a @ a).dtype

    assert product_dtype() == torch.bfloat16
    with float32(accelerator):
        assert product_dtype() == torch.float32
    assert product_dtype() == torch.bfloat16
