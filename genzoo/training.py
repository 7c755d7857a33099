"""One Accelerate training loop for every model family.

The loop knows only the model contract (``loss``, ``sample``, ``evaluation_metrics``): mixed precision,
gradient accumulation and clipping, AdamW with warm-up + cosine decay, optional EMA weights, periodic
validation through ``gather_for_metrics`` with a sample grid, ``save_state`` checkpoints written atomically
and exact resumption (same data order, same RNG), a stop with a message on a non-finite loss, and export of
the final (EMA, best-on-valid) weights with ``save_pretrained``.
"""
from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from genzoo.checkpoint import round_to_storage_dtype_, save_pretrained, storage_dtype
from genzoo.data import DataConfig, ImageSplit, TensorBatchLoader, load_split
from genzoo.sampling import save_sample_grid


@dataclass
class TrainConfig:
    output_dir: str = "runs/default"
    seed: int = 0
    batch_size: int = 100  # per process; the global batch is batch_size * processes * grad_accum_steps
    eval_batch_size: int = 500
    max_steps: int = 10000  # optimizer steps
    lr: float = 1e-3
    weight_decay: float = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0  # the cosine decays to lr * min_lr_ratio
    grad_clip: float = 0.0  # max gradient norm; 0 turns clipping off
    grad_accum_steps: int = 1
    mixed_precision: str = "no"  # no | fp16 | bf16
    ema_decay: float = 0.0  # 0 turns the EMA of weights off
    eval_every: int = 1000
    save_every: int = 1000
    log_every: int = 50
    keep_checkpoints: int = 2
    num_sample_images: int = 64  # 0: no sample grid at evaluations (models whose samples are not images)
    select_best: bool = True  # export the weights with the best valid metric (early stopping on valid)
    test_at_end: bool = True  # report test metrics of the exported weights (never used to select)
    export_dtype: str = "float32"  # float16 halves model.safetensors; its metrics are measured after rounding
    log_with: str | None = None  # an Accelerate tracker, e.g. "tensorboard"
    compile: bool = False  # torch.compile the training forward/backward (Accelerate's dynamo backend)
    cpu: bool = False  # force the CPU even where a GPU is present

    def __post_init__(self):
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise ValueError(f"mixed_precision must be no, fp16 or bf16, got {self.mixed_precision!r}")
        for name in ("batch_size", "eval_batch_size", "max_steps", "grad_accum_steps", "eval_every", "save_every",
                     "log_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"train.ema_decay must be in [0, 1), got {self.ema_decay}")
        storage_dtype(self.export_dtype)  # unknown names fail here, not after hours of training


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the run stops before the weights are touched."""


class _LossForward(nn.Module):
    # DDP synchronizes gradients only for calls through forward(), so the loss is reached through one.
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch):
        return self.model.loss(batch)


class TrainState:
    """Counters saved with ``save_state``: optimizer steps taken and the best valid metric so far."""

    def __init__(self):
        self.step, self.best_metric, self.best_step = 0, math.inf, -1

    def state_dict(self) -> dict:
        return {"step": self.step, "best_metric": self.best_metric, "best_step": self.best_step}

    def load_state_dict(self, state: dict) -> None:
        self.step, self.best_metric, self.best_step = int(state["step"]), float(state["best_metric"]), int(state["best_step"])


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices and kernels only: decaying biases (and gains) pulls them towards 0, which for
    binary images means p = 1/2 at the always-black border pixels, a large and needless cost."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]


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


@torch.no_grad()
def evaluate(model, split: ImageSplit, accelerator: Accelerator, batch_size: int = 500) -> dict[str, float]:
    """Means over ``split`` of the model's per-example metrics; every process takes a shard, gathered exactly."""
    loader = accelerator.prepare(DataLoader(TensorDataset(split.images()), batch_size=batch_size))
    was_training = model.training
    model.eval()
    sums, count = {}, 0
    for (batch,) in loader:
        metrics = model.evaluation_metrics(split.to_float(batch))
        metrics = accelerator.gather_for_metrics(metrics)  # drops the padding of an uneven last shard
        for key, value in metrics.items():
            sums[key] = sums.get(key, 0.0) + value.double().sum(0).cpu()  # scalar, or (K,) for vector metrics
        count += next(iter(metrics.values())).shape[0]
    model.train(was_training)
    return model.summarize_metrics({key: total / count for key, total in sums.items()})


def latest_checkpoint(output_dir: str | Path) -> Path:
    """The newest complete ``save_state`` folder of a run (``checkpoints/step_*``)."""
    folders = sorted((Path(output_dir) / "checkpoints").glob("step_*"))
    if not folders:
        raise FileNotFoundError(f"no checkpoint to resume from in {Path(output_dir) / 'checkpoints'}")
    return folders[-1]


def _save_state(accelerator: Accelerator, output_dir: Path, step: int, keep: int) -> None:
    # save_state writes many files; writing into a temporary folder renamed at the end means a run killed
    # mid-save leaves the previous checkpoint as the latest complete one.
    root = output_dir / "checkpoints"
    final, tmp = root / f"step_{step:08d}", root / f".tmp_step_{step:08d}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in sorted(root.glob("step_*"))[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def make_accelerator(config: TrainConfig, project_dir: Path) -> Accelerator:
    """The run's Accelerator; every process of a multi-process launch must be one rank of one run."""
    # Without a GPU (or other accelerator), Accelerate under torchrun picks its distributed CPU mode (gloo)
    # only when told cpu=True; otherwise each launched process silently trains alone and all of them write
    # the same run directory at once.
    cpu = config.cpu or not torch.accelerator.is_available()
    accelerator = Accelerator(
        mixed_precision=config.mixed_precision,
        gradient_accumulation_steps=config.grad_accum_steps,
        log_with=config.log_with,
        project_dir=str(project_dir),
        cpu=cpu,
        dynamo_backend="inductor" if config.compile else None,
    )
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if accelerator.num_processes != launched:
        raise RuntimeError(
            f"launched as {launched} processes (WORLD_SIZE) but Accelerate runs {accelerator.num_processes} "
            f"({accelerator.distributed_type}); each process would train alone and overwrite the others' files. "
            "Launch with `accelerate launch` (add --cpu on a machine without a GPU) or set train.cpu=true.")
    return accelerator


def train(model, data: DataConfig, config: TrainConfig, resume: str | None = None,
          run_config: dict | None = None) -> dict:
    """Train ``model`` on ``data``; returns the exported file's path and its metrics.

    ``resume``: "latest" or a checkpoint folder; the run then continues exactly where that state was saved.
    """
    out = Path(config.output_dir)
    accelerator = make_accelerator(config, out)
    set_seed(config.seed)
    train_split, valid_split = load_split(data, "train", seed=config.seed), load_split(data, "valid")
    loader = TensorBatchLoader(train_split, config.batch_size, seed=config.seed, device=accelerator.device,
                               process_index=accelerator.process_index, num_processes=accelerator.num_processes)
    optimizer = torch.optim.AdamW(parameter_groups(model, config.weight_decay), lr=config.lr,
                                  betas=tuple(config.adam_betas))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(
        config.warmup_steps, config.max_steps, config.min_lr_ratio, calls_per_step=accelerator.num_processes))
    forward, optimizer, scheduler = accelerator.prepare(_LossForward(model), optimizer, scheduler)
    model = accelerator.unwrap_model(forward).model
    ema = None
    if config.ema_decay > 0:
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
    state = TrainState()
    for obj in (loader, state) + ((ema,) if ema is not None else ()):
        accelerator.register_for_checkpointing(obj)
    if resume:
        accelerator.load_state(str(latest_checkpoint(out) if resume == "latest" else resume))
    if config.log_with:
        accelerator.init_trackers(out.name, config=_flat(run_config or {"train": asdict(config)}))
    eval_model = ema.module if ema is not None else model
    preview_reference = valid_split.to_float(valid_split.images()[: config.num_sample_images])
    log_path = out / "log.jsonl"
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(run_config or {}, indent=2))
    bar = tqdm(total=config.max_steps, initial=state.step, disable=not accelerator.is_local_main_process,
               desc=out.name, dynamic_ncols=True)

    forward.train()
    while state.step < config.max_steps:
        batch = next(loader)
        with accelerator.accumulate(forward):
            loss, metrics = forward(batch)
            mean_loss = accelerator.reduce(loss.detach().float(), "mean")
            if not torch.isfinite(mean_loss):
                raise NonFiniteLossError(
                    f"training loss is {mean_loss.item()} at step {state.step + 1} (epoch {loader.epoch}); "
                    f"stopped before updating the weights. Last saved state: {out / 'checkpoints'}. "
                    "Try a lower train.lr, train.grad_clip > 0 or train.mixed_precision=no.")
            accelerator.backward(loss)
            if accelerator.sync_gradients and config.grad_clip > 0:
                accelerator.clip_grad_norm_(forward.parameters(), config.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        if not accelerator.sync_gradients:
            continue
        state.step += 1
        bar.update(1)
        if ema is not None:
            ema.update_parameters(model)
        if state.step % config.log_every == 0:
            record = {"step": state.step, "loss": mean_loss.item(), "lr": scheduler.get_last_lr()[0],
                      "epoch": loader.epoch}
            bar.set_postfix(loss=f"{record['loss']:.3f}")
            _log(accelerator, log_path, record, config.log_with)
        if state.step % config.eval_every == 0 or state.step == config.max_steps:
            valid = evaluate(eval_model, valid_split, accelerator, config.eval_batch_size)
            _log(accelerator, log_path, {"step": state.step, **{f"valid_{k}": v for k, v in valid.items()}},
                 config.log_with)
            if accelerator.is_main_process and config.num_sample_images > 0:
                save_sample_grid(eval_model, out / "samples" / f"step_{state.step:08d}.png",
                                 config.num_sample_images, config.seed, reference=preview_reference)
            metric = valid[eval_model.eval_metric]
            if metric < state.best_metric:
                state.best_metric, state.best_step = metric, state.step
                if accelerator.is_main_process and config.select_best:
                    save_pretrained(eval_model, out / "best.safetensors", metrics={"valid_" + k: v for k, v in valid.items()})
        if state.step % config.save_every == 0 or state.step == config.max_steps:
            _save_state(accelerator, out, state.step, config.keep_checkpoints)
    bar.close()
    return _export(accelerator, eval_model, data, config, state, out)


def _export(accelerator, eval_model, data, config, state, out) -> dict:
    """Final weights (the best on valid if selected) -> ``model.safetensors`` with valid and test metrics."""
    if config.select_best:
        accelerator.wait_for_everyone()  # the main process wrote best.safetensors; every rank reads it
        if (out / "best.safetensors").is_file():
            from safetensors.torch import load_file

            # read on the CPU; load_state_dict copies onto the model's device
            eval_model.load_state_dict(load_file(out / "best.safetensors"))
    dtype = storage_dtype(config.export_dtype)
    round_to_storage_dtype_(eval_model, dtype)  # the metrics below are those of the stored weights
    metrics = {f"valid_{k}": v for k, v in evaluate(eval_model, load_split(data, "valid"), accelerator,
                                                    config.eval_batch_size).items()}
    if config.test_at_end:
        test = evaluate(eval_model, load_split(data, "test"), accelerator, config.eval_batch_size)
        metrics.update({f"test_{k}": v for k, v in test.items()})
    metrics["step"] = state.best_step if config.select_best else state.step
    path = out / "model.safetensors"
    if accelerator.is_main_process:
        save_pretrained(eval_model, path, metrics=metrics, dataset=asdict(data), train_config=asdict(config),
                        dtype=dtype)
        _log(accelerator, out / "log.jsonl", {"step": state.step, "final": metrics}, None)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return {"path": path, "metrics": metrics}


def _log(accelerator: Accelerator, path: Path, record: dict, tracker: str | None) -> None:
    if tracker:
        accelerator.log({k: v for k, v in record.items() if isinstance(v, (int, float)) and k != "step"},
                        step=record["step"])
    if accelerator.is_main_process:
        with open(path, "a") as fh:
            fh.write(json.dumps(record) + "\n")


def _flat(d: dict, prefix: str = "") -> dict:
    flat = {}
    for k, v in d.items():
        if isinstance(v, dict):
            flat.update(_flat(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = v if isinstance(v, (int, float, str, bool)) else str(v)
    return flat
