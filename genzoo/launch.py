"""The one way genzoo builds an Accelerator, for training and for sampling alike.

Every process of a multi-process launch must be one rank of one job, and the mixed precision asked for (by
the config or the command line, else by the launcher: ``accelerate launch --mixed_precision``) must be one
the device runs.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import torch
from accelerate import Accelerator
from accelerate.utils import AutocastKwargs

LAUNCH_HINT = ("Launch N processes with `accelerate launch --multi_gpu --num_processes N ...` (on a machine "
               "without GPUs genzoo runs them on the CPU with gloo) or `torchrun --nproc_per_node N ...`; "
               "`accelerate launch --cpu --num_processes N` starts one process only.")


def make_accelerator(mixed_precision: str | None = None, cpu: bool = False, **kwargs) -> Accelerator:
    """An Accelerator on the GPU where there is one (else the CPU); ``mixed_precision`` None leaves the choice
    to the launcher. ``kwargs`` go to Accelerate (gradient accumulation, trackers, ...)."""
    # Without a GPU (or other accelerator), Accelerate under torchrun picks its distributed CPU mode (gloo)
    # only when told cpu=True; otherwise each launched process silently runs alone and all of them write the
    # same files at once.
    cpu = cpu or not torch.accelerator.is_available()
    accelerator = Accelerator(mixed_precision=mixed_precision, cpu=cpu, **kwargs)
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if accelerator.num_processes != launched:
        raise RuntimeError(
            f"launched as {launched} processes (WORLD_SIZE) but Accelerate runs {accelerator.num_processes} "
            f"({accelerator.distributed_type}); each process would run alone and overwrite the others' files. "
            + LAUNCH_HINT)
    check_precision(accelerator.mixed_precision, accelerator.device)
    return accelerator


def check_precision(mixed_precision: str, device: torch.device) -> None:
    """fp16 autocast on the CPU is silently float32 under Accelerate: refuse it instead."""
    if mixed_precision == "fp16" and torch.device(device).type == "cpu":
        raise ValueError("mixed precision fp16 needs a GPU (Accelerate runs fp16 on the CPU in float32); "
                         "use bf16 on the CPU, or no")


@contextmanager
def float32(accelerator: Accelerator):
    """Within it, ``accelerator.autocast()`` (the one every genzoo sampler runs under) computes in float32,
    through Accelerate's own switch (an AutocastKwargs with autocast disabled). What an export records is
    measured so: the check re-measures it in float32, and a discrete sampler's draws under bf16 logits are other
    draws (vq-prior-mnist's first 1000 samples: FID 278.9 drawn under a bf16 run's autocast, 284.2 in float32)."""
    before = accelerator.autocast_handler
    accelerator.autocast_handler = AutocastKwargs(enabled=False)
    try:
        yield
    finally:
        accelerator.autocast_handler = before
