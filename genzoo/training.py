"""One Accelerate training loop for every model family.

The loop knows only the model contract (``loss``, ``evaluation_metrics``, ``selection_metric``,
``write_preview``) and the split contract (``tensors`` / ``batch``): mixed precision, gradient accumulation
and clipping, AdamW with warm-up + cosine decay, optional EMA weights, periodic validation through
``gather_for_metrics`` with a preview picture, ``save_state`` checkpoints written atomically and exact
resumption (same data order, same RNG), a stop with a message on a non-finite loss, and export of the final
(EMA, best-on-valid) weights with ``save_pretrained``.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch import nn
from torch.optim.swa_utils import AveragedModel

from genzoo import launch, run_folder
from genzoo.checkpoint import (load_pretrained, piece_totals, round_to_storage_dtype_, save_pretrained, storage_dtype,
                               training_cost)
from genzoo.config import (Config, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, Range, UnitInterval,
                           config_to_dict)
from genzoo.data import TensorBatchLoader
from genzoo.evaluation import TEST_HEAD, TEST_SAMPLES, evaluate, drawn_sample_metrics
from genzoo.run_log import RunLog, continued_curve, learning_curve

__all__ = ["NonFiniteLossError", "TrainConfig", "evaluate", "make_accelerator", "train", "warmup_cosine"]


@dataclass
class TrainConfig(Config):
    output_dir: str = "runs/default"
    seed: NonNegativeInt = 0
    batch_size: PositiveInt = 100  # per process; the global batch is batch_size * processes * grad_accum_steps
    eval_batch_size: PositiveInt = 500
    max_steps: PositiveInt = 10000  # optimizer steps
    lr: PositiveFloat = 1e-3
    weight_decay: NonNegativeFloat = 0.0
    # adamw, or lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", from lion-pytorch):
    # sign updates, usually with a 3-10x smaller lr and a larger weight decay than AdamW's
    optimizer: Literal["adamw", "lion"] = "adamw"
    adam_betas: tuple[UnitInterval, UnitInterval] = (0.9, 0.999)
    lion_betas: tuple[UnitInterval, UnitInterval] = (0.9, 0.99)  # the paper's defaults
    warmup_steps: NonNegativeInt = 0
    min_lr_ratio: Annotated[float, Range(ge=0, le=1)] = 0.0  # the cosine decays to lr * min_lr_ratio
    grad_clip: NonNegativeFloat = 0.0  # max gradient norm; 0 turns clipping off
    grad_accum_steps: PositiveInt = 1
    # None: the launcher's choice (accelerate launch --mixed_precision, or `accelerate config`), else "no"
    mixed_precision: Literal["no", "fp16", "bf16"] | None = None
    ema_decay: UnitInterval = 0.0  # 0 turns the EMA of weights off
    eval_every: PositiveInt = 1000
    save_every: PositiveInt = 1000
    log_every: PositiveInt = 50
    keep_checkpoints: PositiveInt = 2
    preview_images: NonNegativeInt = 64  # images in the preview written at each evaluation; 0: none
    select_best: bool = True  # export the weights with the best valid metric (if the model names one)
    test_at_end: bool = True  # report test metrics of the exported weights (never used to select)
    export_dtype: Literal["float32", "float16", "bfloat16"] = "float32"  # float16 halves model.safetensors
    log_with: str | None = None  # an Accelerate tracker, e.g. "tensorboard"
    compile: bool = False  # torch.compile the training forward/backward (Accelerate's dynamo backend)
    # channels_last weights and image batches, the layout oneDNN's CPU convolutions prefer; with bf16 it gained
    # 5-38% on quiet cores, 2 threads (PixelCNN 2.26x float32's step against bf16 alone's 2.16x, the MNIST
    # classifier 1.93x against 1.40x) and lost on others (IGN 0.80x): measure per model with
    # bench/cpu_throughput. No effect on models without convolutions
    channels_last: bool = False
    cpu: bool = False  # force the CPU even where a GPU is present
    # warm start: the first step starts from this checkpoint's weights (a shipped name or a .safetensors path
    # of the same architecture and model config) with a fresh optimizer and schedule; None: initial weights
    init_from: str | None = None


class NonFiniteLossError(RuntimeError):
    """The training loss (or its gradient) became NaN or infinite; the run stops before the weights are
    touched, and its last saved state is finite."""


class NonFiniteWeightsError(NonFiniteLossError):
    """A finite update overflowed the weights; the run stops before saving them."""


class _LossForward(nn.Module):
    # DDP synchronizes gradients only for calls through forward(), so the loss is reached through one.
    def __init__(self, model: nn.Module, channels_last: bool = False):
        super().__init__()
        self.model, self.channels_last = model, channels_last

    def forward(self, batch):
        return self.model.loss(to_channels_last(batch) if self.channels_last else batch)


def to_channels_last(batch):
    """The 4-D tensors of a batch (images, or images and labels) in channels_last memory format."""
    if isinstance(batch, torch.Tensor):
        return batch.contiguous(memory_format=torch.channels_last) if batch.dim() == 4 else batch
    return type(batch)(to_channels_last(b) for b in batch) if isinstance(batch, (tuple, list)) else batch


class TrainState:
    """Counters saved with ``save_state``: optimizer steps taken and the best valid metric so far."""

    def __init__(self):
        self.step, self.best_metric, self.best_step = 0, math.inf, -1
        self.initial_metric = math.nan  # the selection metric on valid before the first step
        self.seconds = 0.0  # wall time spent in optimizer steps (not evaluating or saving), over every piece

    def state_dict(self) -> dict:
        return {"step": self.step, "best_metric": self.best_metric, "best_step": self.best_step,
                "initial_metric": self.initial_metric, "seconds": self.seconds}

    def load_state_dict(self, state: dict) -> None:
        self.step, self.best_step = int(state["step"]), int(state["best_step"])
        self.best_metric = float(state["best_metric"])
        self.initial_metric = float(state.get("initial_metric", math.nan))
        self.seconds = float(state.get("seconds", 0.0))


class MetricMeans:
    """Running sums of a step's scalar loss metrics between two log records, kept on the device (no sync per
    step); ``means`` averages them over the steps and the processes."""

    def __init__(self):
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, metrics: dict[str, torch.Tensor]) -> None:
        for key, value in metrics.items():
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                self.sums[key] = self.sums.get(key, 0.0) + value.detach().float().reshape(())
        self.count += 1

    def means(self, accelerator: Accelerator) -> dict[str, float]:
        out = {k: accelerator.reduce(v / self.count, "mean").item() for k, v in sorted(self.sums.items())}
        self.sums, self.count = {}, 0
        return out


def ema_decay_at(decay: float, num_averaged: int) -> float:
    """The decay of the EMA update after ``num_averaged`` averaged steps: min(decay, (1 + n) / (10 + n)), the
    warm-up of diffusers' EMAModel, so that a short run's average is not held back by the initial weights (with
    a constant 0.999 they still weigh e^-3 = 5% after 3000 steps)."""
    return min(decay, (1 + num_averaged) / (10 + num_averaged))


def ema_multi_avg_fn(decay: float):
    """The EMA update for ``AveragedModel``, which hands it one (device, dtype) group of tensors at a time:
    floating tensors move towards the model's by ``1 - ema_decay_at(decay, n)``; integer buffers (orders,
    degrees, counters) are copied, since averaging them in float and truncating corrupts them."""

    def update(ema_tensors, model_tensors, num_averaged):
        if ema_tensors[0].is_floating_point() or ema_tensors[0].is_complex():
            torch._foreach_lerp_(ema_tensors, model_tensors, 1 - ema_decay_at(decay, int(num_averaged)))
        else:
            torch._foreach_copy_(ema_tensors, model_tensors)

    return update


def parameter_groups(model: nn.Module, weight_decay: float, lr: float) -> list[dict]:
    """Weight decay on matrices and kernels only: decaying biases (and gains) pulls them towards 0, which for
    binary images means p = 1/2 at the always-black border pixels, a large and needless cost. Each group's
    learning rate is ``lr`` times the model's ``learning_rate_scale`` of its parameters: the two groups at scale 1
    come first (every model's whole optimizer unless it scales some), then a pair per other scale."""
    scale_of = getattr(model, "learning_rate_scale", lambda name: 1.0)
    by_scale: dict[float, list[nn.Parameter]] = {1.0: []}
    for name, p in model.named_parameters():
        if p.requires_grad:
            by_scale.setdefault(float(scale_of(name)), []).append(p)
    groups = []
    for scale, params in by_scale.items():
        groups += [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay, "lr": lr * scale},
                   {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0, "lr": lr * scale}]
    return groups


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW or Lion over ``parameter_groups`` (weight decay on matrices only; both decouple it from the
    gradient, scaled by the learning rate)."""
    groups = parameter_groups(model, config.weight_decay, config.lr)
    if config.optimizer == "lion":
        from lion_pytorch import Lion

        return Lion(groups, lr=config.lr, betas=tuple(config.lion_betas))
    # The fused kernel (one pass per tensor) where torch has it: on the CPU 2.6x faster than the default
    # per-operation AdamW at 784 x 500, and 4.6x where half the gradients are masked zeros (the default's sqrt
    # is ~6x slower on exact zeros there); bench/peer_training.py.
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in model.parameters())
    return torch.optim.AdamW(groups, lr=config.lr, betas=tuple(config.adam_betas), fused=fused or None)


def warmup_cosine(warmup: int, total: int, min_ratio: float, calls_per_step: int = 1):
    """LR multiplier: linear warm-up over ``warmup`` steps, then cosine decay to ``min_ratio`` at ``total``.

    ``calls_per_step``: how often the scheduler is stepped per optimizer step (Accelerate steps a prepared
    scheduler once per process), so that N processes follow the schedule of one process step for step.
    """

    def factor(call: int) -> float:
        step = call // calls_per_step
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def all_finite(tensors) -> bool:
    """Whether every floating tensor is finite, from one fused norm (one host sync)."""
    tensors = [t.detach() for t in tensors if t is not None and t.is_floating_point()]
    return not tensors or bool(torch.isfinite(torch.nn.utils.get_total_norm(tensors)))


def make_accelerator(config: TrainConfig, project_dir: Path) -> Accelerator:
    """The run's Accelerator (genzoo.launch.make_accelerator with the run's settings)."""
    return launch.make_accelerator(
        config.mixed_precision, cpu=config.cpu, gradient_accumulation_steps=config.grad_accum_steps,
        log_with=config.log_with, project_dir=str(project_dir),
        dynamo_backend="inductor" if config.compile else None)


def train(model, splits, config: TrainConfig, resume: str | None = None, run_config: dict | None = None,
          overwrite: bool = False) -> dict:
    """Train ``model`` on ``splits`` (a mapping with "train" and "valid", and "test" if ``test_at_end``, e.g.
    ``genzoo.data.Splits``); returns the exported file's path and its metrics.

    ``resume``: "latest" or a checkpoint folder; the run then continues exactly where that state was saved.
    "auto": "latest" where the run saved a state, else a fresh start (a scheduler's one command for the first
    start and every requeue; ``run_folder.resolve_resume``). A folder that already holds a run is refused
    unless resumed or ``overwrite`` (which deletes that run).
    """
    out = Path(config.output_dir)
    accelerator = make_accelerator(config, out)
    with run_folder.exclusive(out, accelerator):
        asked, resume = resume, run_folder.resolve_resume(out, resume)
        fresh_under_auto = asked == "auto" and resume is None  # replaces a run killed before its first save
        run_folder.prepare(out, accelerator, resume, overwrite or fresh_under_auto)
        return _train(model, splits, config, accelerator, out, resume, run_config, asked)


def _train(model, splits, config: TrainConfig, accelerator: Accelerator, out: Path, resume: str | None,
           run_config: dict | None, asked: str | None = None) -> dict:
    set_seed(config.seed)
    loader = TensorBatchLoader(splits["train"], config.batch_size, seed=config.seed, device=accelerator.device,
                               process_index=accelerator.process_index, num_processes=accelerator.num_processes)
    if config.channels_last:  # 4-D weights in channels_last before the optimizer holds them
        model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(
        config.warmup_steps, config.max_steps, config.min_lr_ratio, calls_per_step=accelerator.num_processes))
    forward, optimizer, scheduler = accelerator.prepare(_LossForward(model, config.channels_last), optimizer,
                                                        scheduler)
    model = accelerator.unwrap_model(forward).model
    if not resume:  # once per run, before the EMA copies the buffers; a resume loads them with the state
        model.fit_data(splits["train"])
    train_record = {**asdict(config), "mixed_precision": accelerator.mixed_precision}  # what the run used
    source_curve = []  # a warm start's learning curve continues its source's
    if config.init_from:  # on a resume too, for the record's hash; the saved state then replaces the weights
        train_record["init_from_sha256"], source_curve, source_cost = warm_start(model, config.init_from)
        train_record["init_steps"], train_record["init_train_seconds"] = source_cost
    ema = None
    if config.ema_decay > 0:
        ema = AveragedModel(model, multi_avg_fn=ema_multi_avg_fn(config.ema_decay), use_buffers=True)
    state = TrainState()
    start = "fresh start"
    if resume:
        folder = run_folder.latest_checkpoint(out) if resume == "latest" else Path(resume)
        _resume(accelerator, out, folder, state, loader, ema)
        start = f"resumed from {folder.name}"
    if asked == "auto":
        start += " (--resume auto)"
    if config.log_with:
        accelerator.init_trackers(out.name, config=_flat(run_config or {"train": train_record}))
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(run_config or {"train": train_record}, indent=2))
    log = RunLog(accelerator, out / "log.jsonl", config.max_steps, state.step, out.name, config.log_with)
    log.print(f"{out.name}: {type(model).__name__} ({model.num_parameters():,} parameters), "
              f"{accelerator.num_processes} process(es) on {accelerator.device}, mixed precision "
              f"{accelerator.mixed_precision}, steps {state.step + 1}..{config.max_steps}, {start}")
    context = _RunContext(accelerator, forward, optimizer, scheduler, loader, state, config, out, log,
                          ema.module if ema is not None else model, splits, train_record, ema, source_curve)
    if not resume and context.selection_metric is not None:
        state.initial_metric = _valid_metric(context)  # for the warning of a run that made valid worse
    _loop(context, model, ema)
    log.close()
    return _export(context)


def warm_start(model, source: str) -> tuple[str, list[dict]]:
    """Copy the weights of checkpoint ``source`` (shipped name or path, verified on load) into ``model``, whose
    architecture and model config must be the checkpoint's but for its ``training_only`` fields (dropout);
    returns the checkpoint's tensors hash, which the run records beside ``init_from``, its learning curve, which
    the exported curve continues, and its ``training_cost`` (steps, seconds), which the export's totals add to."""
    loaded = load_pretrained(source, architecture=model.architecture)
    ours, theirs = config_to_dict(model.config), config_to_dict(loaded.config)
    differ = sorted(k for k in ours.keys() | theirs.keys()
                    if ours.get(k) != theirs.get(k) and k not in model.config.training_only)
    if differ:
        raise ValueError(f"train.init_from={source!r} was trained with another model config: "
                         + ", ".join(f"model.{k}={theirs.get(k)!r} there, {ours.get(k)!r} here" for k in differ))
    model.load_state_dict(loaded.state_dict(), strict=True)  # copies in place: the optimizer keeps its tensors
    meta = loaded.pretrained_metadata
    return meta["tensors_sha256"], meta.get("history", []), training_cost(meta)


def _resume(accelerator, out: Path, folder: Path, state: TrainState, loader, ema) -> None:
    """Accelerate's state (weights_only loads), then genzoo's counters and EMA; the history and the log are
    cut back to the resumed step."""
    accelerator.load_state(str(folder))
    counters = run_folder.load_genzoo_state(folder, ema)
    state.load_state_dict(counters["train"])
    loader.load_state_dict(counters["loader"])
    if accelerator.is_main_process:
        run_folder.resumed_from(out, folder)
        run_folder.truncate_log(out / "log.jsonl", state.step)
    accelerator.wait_for_everyone()


def _valid_metric(run) -> float:
    valid = evaluate(run.eval_model, run.splits["valid"], run.accelerator, run.config.eval_batch_size)
    return valid[run.selection_metric]


@dataclass
class _RunContext:  # what the loop's functions share
    accelerator: Accelerator
    forward: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    loader: TensorBatchLoader
    state: TrainState
    config: TrainConfig
    out: Path
    log: RunLog
    eval_model: nn.Module  # the EMA weights where kept, else the model
    splits: object
    train_record: dict
    ema: object = None
    source_curve: list = field(default_factory=list)  # the warm start's curve, continued at export

    @property
    def dataset(self) -> dict:
        dataset = getattr(self.splits, "dataset", None)
        return dataset.to_dict() if dataset is not None else {}

    @property
    def selection_metric(self) -> str | None:
        return self.eval_model.selection_metric if self.config.select_best else None


def _loop(run: _RunContext, model, ema) -> None:
    config, state, accelerator = run.config, run.state, run.accelerator
    means = MetricMeans()
    run.forward.train()
    while state.step < config.max_steps:
        start = time.perf_counter()
        loss, metrics = _optimizer_step(run, next(run.loader))
        state.seconds += time.perf_counter() - start
        means.add({"loss": loss, **metrics})
        if not accelerator.sync_gradients:
            continue
        state.step += 1
        if ema is not None:
            ema.update_parameters(model)
        if state.step % config.log_every == 0:
            record = {"step": state.step, **means.means(accelerator), "lr": run.scheduler.get_last_lr()[0],
                      "epoch": run.loader.epoch}
            run.log.record(record, echo=run.log.bar is None)
            run.log.advance(record["loss"])
        else:
            run.log.advance()
        if state.step % config.eval_every == 0 or state.step == config.max_steps:
            _validate(run)
        if state.step % config.save_every == 0 or state.step == config.max_steps:
            _save_state(run)


def _optimizer_step(run: _RunContext, batch):
    """One forward/backward (one optimizer step once the gradients are accumulated); the loss is checked on
    every process before any weight moves."""
    accelerator = run.accelerator
    with accelerator.accumulate(run.forward):
        loss, metrics = run.forward(batch)
        mean_loss = accelerator.reduce(loss.detach().float(), "mean")
        if not torch.isfinite(mean_loss):
            raise NonFiniteLossError(
                f"training loss is {mean_loss.item()} at step {run.state.step + 1} (epoch {run.loader.epoch}); "
                f"stopped before updating the weights. Last saved state: {_last_saved(run)}. "
                "Try a lower train.lr, train.grad_clip > 0 or train.mixed_precision=no.")
        accelerator.backward(loss)
        if accelerator.sync_gradients:
            _check_gradients(run)
        run.optimizer.step()
        run.scheduler.step()
        run.optimizer.zero_grad(set_to_none=True)
    return loss.detach(), metrics


def _check_gradients(run: _RunContext) -> None:
    """Clip, and stop before the step if the (synchronized, so identical on every process) gradients are not
    finite. Under fp16 the gradient scaler skips such steps itself."""
    params = [p for p in run.forward.parameters() if p.grad is not None]
    if run.config.grad_clip > 0:
        norm = run.accelerator.clip_grad_norm_(params, run.config.grad_clip)
    elif run.accelerator.scaler is None:
        norm = torch.nn.utils.get_total_norm([p.grad for p in params])
    else:
        return
    if run.accelerator.scaler is None and not torch.isfinite(norm):
        raise NonFiniteLossError(
            f"gradient norm is {norm.item()} at step {run.state.step + 1} (the loss was finite); stopped before "
            f"updating the weights. Last saved state: {_last_saved(run)}. Try a lower train.lr or "
            "train.grad_clip > 0.")


def _last_saved(run: _RunContext) -> str:
    saved = run_folder.history(run.out)
    return str(run.out / "checkpoints" / saved[-1]) if saved else "none yet"


def _save_state(run: _RunContext) -> None:
    """A ``save_state`` checkpoint with genzoo's own state beside it, written into a temporary folder renamed at
    the end (a run killed mid-save leaves the previous one as the latest complete state); the weights are
    checked first, so every saved state is finite."""
    accelerator, out, step = run.accelerator, run.out, run.state.step
    if not all_finite(run.forward.parameters()):
        raise NonFiniteWeightsError(
            f"the weights are not finite after step {step} (an update overflowed); not saved. Last saved "
            f"(finite) state: {_last_saved(run)}. Try a lower train.lr or train.grad_clip > 0.")
    root = out / "checkpoints"
    final, tmp = root / f"step_{step:08d}", root / f".tmp_step_{step:08d}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    if accelerator.is_main_process:
        run_folder.save_genzoo_state(tmp, {"train": run.state.state_dict(), "loader": run.loader.state_dict()},
                                     run.ema)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        run_folder.record_and_prune(out, final.name, run.config.keep_checkpoints)
    accelerator.wait_for_everyone()


def _validate(run: _RunContext) -> None:
    """Valid metrics (logged and printed), the preview picture, and best-on-valid selection."""
    state, config, model = run.state, run.config, run.eval_model
    valid = evaluate(model, run.splits["valid"], run.accelerator, config.eval_batch_size)
    run.log.record({"step": state.step, **{f"valid_{k}": v for k, v in valid.items()}})
    if run.accelerator.is_main_process and config.preview_images > 0:
        was_training = model.training
        model.eval()  # eval mode: no statistics move, and nothing waits for the other processes
        model.write_preview(run.out / "samples" / f"step_{state.step:08d}.png", config.preview_images, config.seed,
                            reference=lambda: run.splits["valid"])
        model.train(was_training)
    metric = run.selection_metric
    if metric is not None and valid[metric] < state.best_metric:
        state.best_metric, state.best_step = valid[metric], state.step
        if run.accelerator.is_main_process:
            save_pretrained(model, run.out / "best.safetensors", metrics={f"valid_{k}": v for k, v in valid.items()},
                            dataset=run.dataset, train_config=run.train_record)


def _export(run: _RunContext) -> dict:
    """Final weights (the best on valid if selected) -> ``model.safetensors`` with valid and test metrics."""
    accelerator, config, model, out = run.accelerator, run.config, run.eval_model, run.out
    if run.selection_metric is not None:
        accelerator.wait_for_everyone()  # the main process wrote best.safetensors; every rank reads it
        if (out / "best.safetensors").is_file():
            from safetensors.torch import load_file

            # read on the CPU; load_state_dict copies onto the model's device
            model.load_state_dict(load_file(out / "best.safetensors"))
    dtype = storage_dtype(config.export_dtype)
    round_to_storage_dtype_(model, dtype)  # the metrics below are those of the stored weights
    if not all_finite(list(model.parameters()) + list(model.buffers())):
        raise NonFiniteWeightsError(f"the weights to export are not finite (in {config.export_dtype}); not saved. "
                                    f"Last saved state: {_last_saved(run)}")
    with launch.float32(accelerator):  # measured as the check re-measures them, whatever the run's autocast
        metrics = _export_metrics(run, model)
    metrics["step"] = run.state.best_step if run.selection_metric is not None else run.state.step
    metrics["train_seconds"] = round(run.state.seconds, 1)  # to the last step, not to the selected one
    metrics.update(_totals(run.train_record, metrics))
    path = out / "model.safetensors"
    if accelerator.is_main_process:
        save_pretrained(model, path, metrics=metrics, dataset=run.dataset, train_config=run.train_record, dtype=dtype,
                        history=continued_curve(run.source_curve, learning_curve(run.log.path),
                                                run.train_record.get("init_steps")))
        run.log.record({"step": run.state.step, "final": metrics}, echo=False)
        run.log.print("final: " + "  ".join(f"{k} {v:.5g}" if isinstance(v, float) else f"{k} {v}"
                                            for k, v in metrics.items()))
        _warn_if_worse_than_at_start(run, metrics)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return {"path": path, "metrics": metrics, "is_main_process": accelerator.is_main_process}


def _totals(train_record: dict, metrics: dict) -> dict:
    """A warm start's steps and seconds counted from its source's first step (``steps_total``, and
    ``train_seconds_total`` where the source's seconds are known)."""
    if not train_record.get("init_from"):
        return {}
    return piece_totals(train_record.get("init_steps"), train_record.get("init_train_seconds"), metrics)


def _export_metrics(run: _RunContext, model) -> dict:
    """The valid metrics, and with ``test_at_end`` the test metrics and their short forms, of the export."""
    accelerator, config = run.accelerator, run.config
    metrics = {f"valid_{k}": v for k, v in evaluate(model, run.splits["valid"], accelerator,
                                                    config.eval_batch_size).items()}
    if config.test_at_end:
        test = evaluate(model, run.splits["test"], accelerator, config.eval_batch_size)
        metrics.update({f"test_{k}": v for k, v in test.items()})
        # the first examples alone, which the shipped-checkpoint tests recompute in seconds for any model size
        head = evaluate(model, run.splits["test"], accelerator, config.eval_batch_size, first=TEST_HEAD)
        metrics.update({f"test_head{TEST_HEAD}_{k}": v for k, v in head.items()})
        if model.metric_samples:  # ... and for a model scored by its samples, the metrics of its first draws
            n = min(TEST_SAMPLES, model.metric_samples)
            quick = drawn_sample_metrics(model, run.splits["test"], accelerator, n)
            metrics.update({f"test_samples{n}_{k}": v for k, v in quick.items()})
    return metrics


def _warn_if_worse_than_at_start(run: _RunContext, metrics: dict) -> None:
    """A blow-up that stays finite trains to the end: say so when valid ended worse than before step 1."""
    metric, start = run.selection_metric, run.state.initial_metric
    if metric is not None and math.isfinite(start) and metrics[f"valid_{metric}"] > start:
        message = (f"valid {metric} got worse than at the start ({metrics[f'valid_{metric}']:.5g} > {start:.5g}): "
                   "the run diverged; try a lower train.lr or train.grad_clip > 0")
        run.log.print(f"warning: {message}")
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def _flat(d: dict, prefix: str = "") -> dict:
    flat = {}
    for k, v in d.items():
        if isinstance(v, dict):
            flat.update(_flat(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = v if isinstance(v, (int, float, str, bool)) else str(v)
    return flat
