"""Training batches sliced from an in-memory split, sharded over Accelerate processes, exactly resumable."""
from __future__ import annotations

import torch

from genzoo.data.splits import Split


class TensorBatchLoader:
    """Endless iterator over shuffled batches of a ``Split``.

    Every process draws the same permutation (seeded by ``seed`` and the epoch) and takes its own
    ``batch_size`` rows of each global batch of ``batch_size * num_processes``, so the processes together see
    what one process with the global batch would. The position (epoch, batch) is state for Accelerate's
    ``save_state`` through ``state_dict`` / ``load_state_dict``: a resumed run sees the same batches.
    """

    def __init__(self, split: Split, batch_size: int, seed: int = 0, process_index: int = 0,
                 num_processes: int = 1, device: torch.device | str = "cpu"):
        global_batch = batch_size * num_processes
        if global_batch > len(split):
            raise ValueError(f"global batch {global_batch} exceeds the {len(split)} training examples")
        self.split, self.batch_size, self.seed = split, batch_size, seed
        self.rank, self.world, self.device = process_index, num_processes, torch.device(device)
        self.batches_per_epoch = len(split) // global_batch  # the last incomplete batch is dropped
        self.epoch, self.batch_index = 0, 0
        self._order: torch.Tensor | None = None

    def _epoch_order(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 7919 + self.epoch)
        return torch.randperm(len(self.split), generator=g)

    def __iter__(self):
        return self

    def __next__(self):
        if self.batch_index >= self.batches_per_epoch:
            self.epoch, self.batch_index, self._order = self.epoch + 1, 0, None
        if self._order is None:
            self._order = self._epoch_order()
        start = (self.batch_index * self.world + self.rank) * self.batch_size
        rows = self._order[start : start + self.batch_size]
        self.batch_index += 1
        return self.split.batch(rows, self.epoch, self.device)  # one gather per stored tensor

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "batch_index": self.batch_index}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.batch_index, self._order = int(state["epoch"]), int(state["batch_index"]), None
