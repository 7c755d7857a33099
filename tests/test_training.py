"""The shared Accelerate loop: exact resumption, non-finite stop, bf16 autocast, two processes."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator

from genzoo import create_model, load_pretrained, save_pretrained
from genzoo.checkpoint import training_cost
from genzoo.cli import train_main
from genzoo.data import BinarizedMNISTData, ImageSplit, Splits
from genzoo.evaluation import evaluate
from genzoo.training import NonFiniteLossError, TrainConfig, make_accelerator, train, warmup_cosine
from tests.conftest import needs_binarized_mnist
from tests.launch import assert_one_run_logged, torchrun

ROOT = Path(__file__).resolve().parent.parent


def tiny_made():
    torch.manual_seed(0)
    return create_model("made", hidden=8, num_masks=2, order="random")


def config(tmp_path, **overrides) -> TrainConfig:
    base = dict(output_dir=str(tmp_path / "run"), batch_size=16, eval_batch_size=2000, max_steps=6, lr=1e-2,
                warmup_steps=2, eval_every=3, save_every=3, log_every=1, preview_images=4, cpu=True,
                ema_decay=0.9, grad_clip=1.0)
    base.update(overrides)
    return TrainConfig(**base)


def losses(run_dir) -> dict[int, float]:
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in records if "loss" in r}


@needs_binarized_mnist
def test_resumed_run_continues_with_the_same_losses(tmp_path):
    cfg = config(tmp_path)
    result = train(tiny_made(), Splits(BinarizedMNISTData()), cfg)
    run = tmp_path / "run"
    full = losses(run)
    assert sorted(full) == [1, 2, 3, 4, 5, 6]
    assert (run / "samples" / "step_00000003.png").is_file() and result["path"].is_file()
    exported = load_pretrained(result["path"])
    meta_metrics = exported.pretrained_metadata["metrics"]
    assert {"valid_nll", "test_nll", "test_head1000_nll", "step"} <= set(meta_metrics)
    test = BinarizedMNISTData().load("test")  # the head's metric is that of the first 1000 test images alone
    head = -exported.log_prob(test.head(1000)).double().mean().item()
    assert meta_metrics["test_head1000_nll"] == pytest.approx(head, rel=1e-6)
    assert meta_metrics["test_head1000_nll"] != pytest.approx(meta_metrics["test_nll"], rel=1e-6)
    # the file carries its learning curve: the log's training and validation records, the final one left out
    history = exported.pretrained_metadata["history"]
    assert [r["step"] for r in history if "loss" in r] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in history if "valid_nll" in r] == [3, 6]
    assert [r["loss"] for r in history if "loss" in r] == [full[step] for step in range(1, 7)]

    # Kill after step 3: drop everything the run wrote later, then resume from its last saved state.
    shutil.rmtree(run / "checkpoints" / "step_00000006")
    (run / "log.jsonl").write_text("")
    train(tiny_made(), Splits(BinarizedMNISTData()), cfg, resume="latest")
    resumed = losses(run)
    assert sorted(resumed) == [4, 5, 6]
    for step in (4, 5, 6):
        assert resumed[step] == pytest.approx(full[step], rel=1e-6, abs=1e-6)


def poison_loss(model, at_call: int, change):
    """Make ``model.loss`` return ``change(loss)`` at its ``at_call``-th call (1-based), unchanged otherwise."""
    calls = {"n": 0}
    original = model.loss

    def poisoned(batch):
        calls["n"] += 1
        loss, metrics = original(batch)
        return (change(loss) if calls["n"] == at_call else loss), metrics

    model.loss = poisoned
    return model


@needs_binarized_mnist
def test_non_finite_loss_stops_naming_the_step(tmp_path):
    model = poison_loss(tiny_made(), 3, lambda loss: loss * float("nan"))
    with pytest.raises(NonFiniteLossError, match="at step 3"):
        train(model, Splits(BinarizedMNISTData()), config(tmp_path))


@needs_binarized_mnist
def test_bf16_autocast_trains_on_cpu(tmp_path):
    result = train(tiny_made(), Splits(BinarizedMNISTData()), config(tmp_path, mixed_precision="bf16", max_steps=3, ema_decay=0.0))
    assert torch.isfinite(torch.tensor(result["metrics"]["valid_nll"]))


def test_two_processes_give_the_same_valid_nll(tmp_path):
    model = create_model("made", image_shape=(1, 4, 4), hidden=10, num_masks=2).eval()
    path = save_pretrained(model, tmp_path / "m.safetensors")
    data = (torch.rand(1001, 1, 4, 4) < 0.4).to(torch.uint8)  # odd count: uneven shards, padding dropped
    torch.save(data, tmp_path / "data.pt")
    one = evaluate(model, ImageSplit(data, scale=1.0), Accelerator(cpu=True), batch_size=64)["nll"]
    torchrun(ROOT / "tests" / "_two_process_eval.py", path, tmp_path / "data.pt", tmp_path / "two.json")
    two = json.loads((tmp_path / "two.json").read_text())
    assert two["processes"] == 2
    assert two["nll"] == pytest.approx(one, rel=1e-6)
    exact = -model.log_prob(data.float()).double().mean().item()
    assert one == pytest.approx(exact, rel=1e-6)


@needs_binarized_mnist
def test_two_process_training_matches_one_process_with_the_global_batch(tmp_path):
    """train/ar.py in two processes of batch 8 (DDP, gathered validation, one export) takes the same steps as
    one process of batch 16: the ranks split each global batch and DDP averages their gradients."""
    args = ["--config", "configs/made_binmnist.yaml", "model.hidden=8", "train.max_steps=4", "train.eval_every=2",
            "train.save_every=2", "train.preview_images=4", "train.log_every=1"]
    two, one = tmp_path / "ddp", tmp_path / "single"
    printed = torchrun("train/ar.py", *args, f"train.output_dir={two}", "train.batch_size=8")
    assert printed.count("final: valid_nll") == 1 and printed.count("step 4/4  loss") == 1  # the main rank alone
    train_main([*args, f"train.output_dir={one}", "train.batch_size=16", "train.cpu=true"])
    assert_one_run_logged(two, steps=4)  # one two-rank run, not two one-process runs in one folder
    assert sorted((two / "checkpoints").glob("step_*"))[-1].name == "step_00000004"
    assert losses(two) == pytest.approx(losses(one), rel=1e-5)
    metrics_two = load_pretrained(two / "model.safetensors").pretrained_metadata["metrics"]
    metrics_one = load_pretrained(one / "model.safetensors").pretrained_metadata["metrics"]
    assert metrics_two["valid_nll"] == pytest.approx(metrics_one["valid_nll"], rel=1e-5)


def test_warmup_cosine_schedule_and_its_multi_process_form():
    one = warmup_cosine(warmup=4, total=12, min_ratio=0.1)
    assert [one(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]  # linear warm-up, full rate at its end
    assert one(8) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way through the cosine
    assert one(12) == pytest.approx(0.1) and one(20) == pytest.approx(0.1)
    # Accelerate steps the scheduler once per process: after k optimizer steps of 3 processes it was called 3k times
    three = warmup_cosine(warmup=4, total=12, min_ratio=0.1, calls_per_step=3)
    assert [three(3 * k) for k in range(13)] == [one(k) for k in range(13)]


class _FakeAccelerator:
    """Stands in for Accelerate's class: records the arguments, runs as one process."""
    num_processes, distributed_type, mixed_precision, device = 1, "NO", "no", torch.device("cpu")

    def __init__(self, **kwargs):
        self.kwargs = kwargs


def test_without_a_gpu_the_loop_asks_accelerate_for_distributed_cpu(monkeypatch):
    # cpu=False on a machine with no accelerator makes Accelerate ignore torchrun's environment.
    monkeypatch.setattr("genzoo.launch.Accelerator", _FakeAccelerator)
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: False)
    assert make_accelerator(TrainConfig(cpu=False), Path("run")).kwargs["cpu"] is True
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: True)
    assert make_accelerator(TrainConfig(cpu=False), Path("run")).kwargs["cpu"] is False


def test_a_launch_accelerate_does_not_see_as_distributed_is_refused(monkeypatch):
    monkeypatch.setattr("genzoo.launch.Accelerator", _FakeAccelerator)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match="launched as 2 processes .* Accelerate runs 1"):
        make_accelerator(TrainConfig(), Path("run"))


@needs_binarized_mnist
def test_float16_export_records_the_metrics_of_the_stored_weights(tmp_path):
    cfg = config(tmp_path, max_steps=3, export_dtype="float16")
    result = train(tiny_made(), Splits(BinarizedMNISTData()), cfg)
    loaded = load_pretrained(result["path"])
    now = evaluate(loaded, BinarizedMNISTData().load("valid"), Accelerator(cpu=True), cfg.eval_batch_size)
    assert now["nll"] == result["metrics"]["valid_nll"]  # measured after rounding, not before
    assert loaded.pretrained_metadata["train_config"]["export_dtype"] == "float16"


@needs_binarized_mnist
def test_init_from_starts_from_the_checkpoints_weights_and_records_which(tmp_path):
    source = train(tiny_made(), Splits(BinarizedMNISTData()), config(tmp_path / "a", max_steps=3))
    torch.manual_seed(1)  # other initial weights than the source's
    cfg = config(tmp_path / "b", max_steps=1, lr=1e-9, warmup_steps=0, ema_decay=0.0,
                 init_from=str(source["path"]))
    result = train(create_model("made", hidden=8, num_masks=2, order="random"), Splits(BinarizedMNISTData()), cfg)
    assert result["metrics"]["valid_nll"] == pytest.approx(source["metrics"]["valid_nll"], abs=1e-3)
    recorded = load_pretrained(result["path"]).pretrained_metadata["train_config"]
    assert recorded["init_from"] == str(source["path"])
    assert recorded["init_from_sha256"] == load_pretrained(source["path"]).pretrained_metadata["tensors_sha256"]
    # the exported curve is the source's, then this run's with its steps counted on from the source's last
    before, after = (load_pretrained(r["path"]).pretrained_metadata["history"] for r in (source, result))
    assert before and after[:len(before)] == before
    assert [r["step"] for r in after[len(before):]] == [3 + 1] * (len(after) - len(before))
    # and its cost counts the source's steps and seconds too
    first, second = source["metrics"], result["metrics"]
    assert second["steps_total"] == 3 + 1
    assert second["train_seconds_total"] == pytest.approx(first["train_seconds"] + second["train_seconds"], abs=0.11)
    assert training_cost(load_pretrained(result["path"]).pretrained_metadata) == (4, second["train_seconds_total"])
    assert training_cost(load_pretrained(source["path"]).pretrained_metadata) == (3, first["train_seconds"])


@needs_binarized_mnist
def test_init_from_a_checkpoint_of_another_config_names_the_difference(tmp_path):
    source = train(tiny_made(), Splits(BinarizedMNISTData()), config(tmp_path / "a", max_steps=1))
    wider = create_model("made", hidden=9, num_masks=2, order="random")
    with pytest.raises(ValueError, match="model.hidden=8 there, 9 here"):
        train(wider, Splits(BinarizedMNISTData()), config(tmp_path / "b", init_from=str(source["path"])))
    with pytest.raises(ValueError, match="holds a 'made' checkpoint, not 'nade'"):
        train(create_model("nade", hidden=4), Splits(BinarizedMNISTData()),
              config(tmp_path / "c", init_from=str(source["path"])))


def test_a_warm_start_may_change_dropout_but_not_the_architecture(tmp_path):
    from genzoo.training import warm_start

    def tiny(**kw):
        return create_model("transformer", grid=(3, 3), categories=2, dim=8, layers=1, heads=2, **kw)

    source = tiny()
    path = save_pretrained(source, tmp_path / "source.safetensors")
    regularized = tiny(dropout=0.2)
    warm_start(regularized, str(path))  # dropout is training_only: its weights mean the same
    assert all(torch.equal(a, b) for a, b in zip(regularized.state_dict().values(), source.state_dict().values()))
    with pytest.raises(ValueError, match="model.heads=2 there, 1 here"):
        warm_start(create_model("transformer", grid=(3, 3), categories=2, dim=8, layers=1, heads=1), str(path))


def test_unknown_export_dtype_is_refused_before_training():
    with pytest.raises(ValueError, match="export_dtype='int8': expected one of 'float32'"):
        TrainConfig(export_dtype="int8")


def test_weight_decay_spares_biases():
    from genzoo.training import parameter_groups

    model = create_model("nade", image_shape=(1, 2, 5), hidden=3)
    decayed, spared = parameter_groups(model, 0.1, 1e-3)
    assert decayed["weight_decay"] == 0.1 and spared["weight_decay"] == 0.0
    assert decayed["lr"] == spared["lr"] == 1e-3
    assert {id(p) for p in decayed["params"]} == {id(model.W), id(model.V)}
    assert {id(p) for p in spared["params"]} == {id(model.b), id(model.c)}


@needs_binarized_mnist
def test_outside_a_terminal_the_log_is_plain_lines_with_metrics(tmp_path, capsys):
    """No \\r progress bar in a file: one line per log record, the validation numbers, the final metrics."""
    train(tiny_made(), Splits(BinarizedMNISTData()), config(tmp_path, max_steps=4, eval_every=2, log_every=2))
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert "\r" not in out.out + out.err
    assert lines[0].startswith("run: MADE (") and "1 process(es) on cpu" in lines[0]
    assert lines[1].startswith("step 2/4  loss ") and "  nll " in lines[1] and "  lr " in lines[1]
    assert lines[2].startswith("step 2/4  valid_nll ")
    assert lines[-1].startswith("final: valid_nll ") and "test_nll" in lines[-1]


def test_ema_copies_integer_buffers_and_averages_floats():
    """AveragedModel's EMA used to average MADE's int64 order buffers in float and truncate them."""
    from torch.optim.swa_utils import AveragedModel

    from genzoo.training import ema_multi_avg_fn

    model = create_model("made", image_shape=(1, 4, 4), hidden=8, num_masks=2, order="random")
    ema = AveragedModel(model, multi_avg_fn=ema_multi_avg_fn(0.9), use_buffers=True)
    first = [p.detach().clone() for p in model.parameters()]
    for _ in range(5):
        ema.update_parameters(model)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
            for b in model.buffers():
                if not b.is_floating_point():
                    b.copy_(b.flip(-1))  # a new order, as a model whose integer state changes
    ema.update_parameters(model)
    for name, b in model.named_buffers():
        if not b.is_floating_point():
            assert torch.equal(dict(ema.module.named_buffers())[name], b), name
    expected = 0.0  # the EMA of offsets 0, 1, ..., 5, update n with decay min(0.9, (1 + n) / (10 + n))
    for n in range(1, 6):
        decay = min(0.9, (1 + n) / (10 + n))
        expected = decay * expected + (1 - decay) * n
    assert torch.allclose(next(ema.module.parameters()), first[0] + expected, atol=1e-5)


def test_the_ema_decay_warms_up_to_the_configured_one():
    from genzoo.training import ema_decay_at

    assert ema_decay_at(0.999, 1) == pytest.approx(2 / 11) and ema_decay_at(0.999, 90) == pytest.approx(0.91)
    assert ema_decay_at(0.999, 10**5) == 0.999


def test_lion_takes_the_papers_sign_steps():
    """Chen et al. 2023, Algorithm 2: c = b1 m + (1 - b1) g; x -= lr (sign(c) + wd x); m = b2 m + (1 - b2) g."""
    from genzoo.training import make_optimizer

    torch.manual_seed(0)
    model = create_model("fvsbn", image_shape=(1, 2, 3)).double()
    lr, wd, (b1, b2) = 0.01, 0.1, (0.9, 0.99)
    optimizer = make_optimizer(model, TrainConfig(optimizer="lion", lr=lr, weight_decay=wd, lion_betas=(b1, b2)))
    x = (torch.rand(16, 1, 2, 3, dtype=torch.float64) < 0.5).double()
    params = dict(model.named_parameters())
    expected = {k: p.detach().clone() for k, p in params.items()}
    momentum = {k: torch.zeros_like(p) for k, p in expected.items()}
    for _ in range(3):
        optimizer.zero_grad()
        model.loss(x)[0].backward()
        for k, p in params.items():
            g = p.grad
            decay = wd if p.dim() >= 2 else 0.0  # weight decay on matrices only, as for AdamW
            expected[k] = expected[k] * (1 - lr * decay) - lr * torch.sign(b1 * momentum[k] + (1 - b1) * g)
            momentum[k] = b2 * momentum[k] + (1 - b2) * g
        optimizer.step()
        for k, p in params.items():
            assert torch.allclose(p, expected[k], atol=1e-12, rtol=0), k


@needs_binarized_mnist
def test_lion_trains_and_resumes_through_the_loop(tmp_path):
    cfg = config(tmp_path, optimizer="lion", lr=1e-3)
    train(tiny_made(), Splits(BinarizedMNISTData()), cfg)
    full = losses(tmp_path / "run")
    shutil.rmtree(tmp_path / "run" / "checkpoints" / "step_00000006")
    train(tiny_made(), Splits(BinarizedMNISTData()), cfg, resume="latest")
    assert losses(tmp_path / "run") == pytest.approx(full, rel=1e-6)


@needs_binarized_mnist
def test_channels_last_trains_the_same_steps_as_the_default_layout(tmp_path):
    """train.channels_last changes the memory layout of 4-D weights and image batches, not the maths."""
    def run(folder, channels_last):
        torch.manual_seed(0)
        model = create_model("pixelcnn", channels=4, blocks=1, output_channels=4)
        train(model, Splits(BinarizedMNISTData()), config(tmp_path / folder, max_steps=4, ema_decay=0.0,
                                                          eval_every=4, save_every=4, test_at_end=False,
                                                          preview_images=0, channels_last=channels_last))
        return losses(tmp_path / folder / "run"), model

    default, _ = run("default", False)
    steps, model = run("channels_last", True)
    assert sorted(steps) == [1, 2, 3, 4]
    assert all(steps[s] == pytest.approx(default[s], rel=1e-5) for s in steps)
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
