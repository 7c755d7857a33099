"""The contract every genzoo model keeps, so that one training loop, one results command and one sample
command serve every family without naming any."""
from __future__ import annotations

import math
import numbers
from pathlib import Path

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from genzoo.preview import save_image_grid
from genzoo.results import Report, ResultsTable, fmt

#: The table of a family that declares none: the selection metric on test and valid.
DEFAULT_TABLE = ResultsTable("generic", (("checkpoint", "l"), ("architecture", "l"), ("parameters", "r"),
                                         ("data", "l"), ("metric", "l"), ("test", "r"), ("valid", "r")), order=90)


class GenerativeModel(nn.Module, PyTorchModelHubMixin, library_name="genzoo", tags=["genzoo"]):
    """An ``nn.Module`` built from one config dataclass (``self.config``).

    What a family provides:
    - ``loss(batch) -> (loss, metrics)``: the training objective and detached per-batch numbers to log;
    - ``sample(n, generator=None)`` where the model can sample, ``log_prob(x) -> (B,)`` in nats where exact;
    - ``evaluation_metrics(batch)``: per-example numbers averaged over a split (``summarize_metrics`` turns
      the means into split-level numbers); ``selection_metric`` names the one that picks the best weights on
      valid (lower is better), or None to train without best-on-valid selection;
    - ``write_preview(path, n, seed, reference)``: the picture written at each evaluation and by the sample
      command (a grid of samples unless the family says otherwise);
    - ``results_table`` and ``results_row(report)``: its table in the README's results (``results_rows`` for a
      model that adds rows to several tables);
    - ``dependencies()``: other checkpoints its weights are meaningless without (recorded in the metadata);
    - ``curve_metrics``: the valid metrics its learning-curve plot shows beside the training loss (None: all).

    ``from_pretrained`` / ``save_pretrained`` / ``push_to_hub`` come from huggingface_hub's mixin and use
    genzoo's checkpoint (config.json + model.safetensors with genzoo's metadata).
    """

    config_class: type
    architecture: str  # set by @register_model
    selection_metric: str | None = "nll"
    results_table: ResultsTable = DEFAULT_TABLE
    curve_metrics: tuple[str, ...] | None = None
    derived_buffers: tuple[str, ...] = ()  # buffers computed from the config alone, checked on load

    def __init__(self, config):
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} takes a {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config

    # --- training and likelihood ---------------------------------------------------------------------------
    def loss(self, batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no exact log-likelihood")

    # --- sampling --------------------------------------------------------------------------------------------
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no sampler")

    @property
    def has_sampler(self) -> bool:
        return type(self).sample is not GenerativeModel.sample

    @staticmethod
    def check_sample_count(n) -> int:
        """``n`` as a positive int, or a ValueError naming it (0, -1, 2.5 and True are refused)."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"number of samples must be an integer >= 1, got {n!r}")
        return int(n)

    @staticmethod
    def check_temperature(temperature) -> float:
        """A sampling temperature as a float, or a ValueError: it must be a finite number above 0."""
        if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) \
                or not math.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"temperature must be a finite number above 0, got {temperature!r}")
        return float(temperature)

    @staticmethod
    def check_nonempty(batch: torch.Tensor, what: str = "a loss") -> torch.Tensor:
        """A loss needs at least one example (the mean over none is NaN), and so does ``what`` else says so."""
        if batch.shape[0] == 0:
            raise ValueError(f"empty batch (shape {tuple(batch.shape)}): {what} needs at least one example")
        return batch

    def rand(self, *shape: int, generator: torch.Generator | None = None, dtype=torch.float32) -> torch.Tensor:
        """Uniforms on [0, 1) of ``shape`` on the model's device, drawn on the generator's device: the same
        seed gives the same numbers whichever device the model is on."""
        device = generator.device if generator is not None else self.device
        return torch.rand(*shape, generator=generator, device=device, dtype=dtype).to(self.device)

    def randn(self, *shape: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard normals of ``shape``, drawn in float32 on the generator's device like ``rand``, then moved
        to the model's device and dtype."""
        device = generator.device if generator is not None else self.device
        return torch.randn(*shape, generator=generator, device=device).to(self.device, self.dtype)

    # --- evaluation and preview -------------------------------------------------------------------------------
    def evaluation_metrics(self, batch) -> dict[str, torch.Tensor]:
        """Per-example metrics, each of shape (B,) or (B, K); by default the negative log-likelihood in nats."""
        return {"nll": -self.log_prob(batch)}

    def summarize_metrics(self, means: dict[str, torch.Tensor]) -> dict[str, float]:
        """Split-level numbers from the means over the split of ``evaluation_metrics`` (vector-valued ones,
        such as code counts, become e.g. usage and perplexity here)."""
        return {key: float(value) for key, value in means.items()}

    def split_metrics(self, split, accelerator, samples: int | None = None) -> dict[str, float]:
        """Numbers of the whole split that are no mean over its examples (e.g. the quality of samples measured
        against the split's images); every process returns the same dict. None by default. ``samples``: draw
        that many instead of ``metric_samples`` (the short check a shipped file records)."""
        return {}

    @property
    def metric_samples(self) -> int:
        """How many samples ``split_metrics`` draws (0: it scores no samples)."""
        return 0

    def learning_rate_scale(self, parameter_name: str) -> float:
        """The factor on the run's learning rate for the parameter called ``parameter_name`` (as
        ``named_parameters`` gives it), e.g. a GAN critic that learns faster than its generator; 1 by default."""
        return 1.0

    def fit_data(self, train) -> None:
        """Statistics of the training split the model keeps in buffers (e.g. a noise distribution matched to
        the data's spectrum): called once before step 1 of a new run, never on resume (the buffers are part of
        the saved state). Nothing by default."""

    @torch.no_grad()
    def sample_images(self, n: int, seed: int = 0) -> torch.Tensor | None:
        """``n`` samples as images (n, C, H, W) in [0, 1], drawn with a CPU generator seeded by ``seed``; None
        for a model that draws no images (no sampler, or samples that are not images, such as 1-D values)."""
        if not self.has_sampler:
            return None
        x = self.sample(n, generator=torch.Generator().manual_seed(seed))
        return x if x.dim() == 4 and x.is_floating_point() else None

    @torch.no_grad()
    def write_preview(self, path: str | Path, n: int = 64, seed: int = 0, reference=None) -> Path:
        """A PNG at ``path``: here a grid of ``n`` samples drawn with a CPU generator seeded by ``seed``.
        ``reference`` is a zero-argument callable giving a split of real data, for families whose preview
        shows what they do to it (it is not called here). Callers put the model in eval mode first."""
        return save_image_grid(self.sample(n, generator=torch.Generator().manual_seed(seed)), path)

    def results_rows(self, report: Report) -> list[tuple[ResultsTable, list[str]]]:
        """(table, row) pairs this checkpoint adds to the results: by default one row of ``results_table``."""
        return [(self.results_table, self.results_row(report))]

    def dependencies(self) -> dict[str, dict[str, str]]:
        """Checkpoints these weights only work with (e.g. the autoencoder whose codes a prior models), by role:
        {role: {"name": ..., "tensors_sha256": ...}}; written to the checkpoint's metadata as ``depends_on``."""
        return {}

    def headline(self, report: Report) -> tuple[str, str]:
        """(the headline test metric, the paper's or a peer's figure beside it, "-" where none) of this
        checkpoint: its cells in the front page's models table. By default the selection metric."""
        metric = self._headline_metric(report)
        return f"{metric} {fmt(report.test.get(metric), 4)}", "-"

    def _headline_metric(self, report: Report) -> str:
        """The metric a generic table shows: the selection metric, else the first one measured."""
        return self.selection_metric or next(iter(report.test), "-")

    def results_row(self, report: Report) -> list[str]:
        metric = self._headline_metric(report)
        return [f"`{report.name}`", self.architecture, f"{self.num_parameters():,}", report.dataset.describe(),
                metric, fmt(report.test.get(metric), 4), fmt(report.valid.get(metric), 4)]

    # --- Hugging Face layout ------------------------------------------------------------------------------------
    def _save_pretrained(self, save_directory: Path) -> None:
        from genzoo.checkpoint import save_pretrained

        save_pretrained(self, save_directory)

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision=None, cache_dir=None, force_download=False,
                         local_files_only=False, token=None, map_location: str = "cpu", **model_kwargs):
        from genzoo.checkpoint import load_pretrained

        folder = Path(model_id)
        if not folder.is_dir():
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(model_id, revision=revision, cache_dir=cache_dir, token=token,
                                            force_download=force_download, local_files_only=local_files_only))
        return load_pretrained(folder, architecture=getattr(cls, "architecture", None), device=map_location)

    # --- misc ------------------------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
