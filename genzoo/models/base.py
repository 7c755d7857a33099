"""The contract every genzoo model keeps, so that one training loop serves every family."""
from __future__ import annotations

import torch
from torch import nn


class GenerativeModel(nn.Module):
    """An ``nn.Module`` built from one config dataclass (``self.config``).

    Subclasses implement ``loss(batch) -> (loss, metrics)`` and ``sample(n, generator=None)``; where the
    likelihood is exact they implement ``log_prob(x) -> (B,)`` in nats. ``evaluation_metrics`` gives the
    per-example numbers the training loop averages over the valid set; ``eval_metric`` names the one used to
    keep the best weights (lower is better).
    """

    config_class: type
    architecture: str  # set by @register_model
    eval_metric = "nll"
    needs_reference = False  # True where ``preview`` shows what the model does to real images

    def __init__(self, config):
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} takes a {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config

    def loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no exact log-likelihood")

    def preview(self, n: int, generator: torch.Generator | None = None,
                reference: torch.Tensor | None = None) -> torch.Tensor:
        """Images for the grid written at each evaluation: samples here; models without a sampler (a VQ-VAE)
        show what they do to the ``reference`` images instead."""
        return self.sample(n, generator=generator)

    def evaluation_metrics(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-example metrics, each of shape (B,) or (B, K); by default the negative log-likelihood in nats."""
        return {"nll": -self.log_prob(x)}

    def summarize_metrics(self, means: dict[str, torch.Tensor]) -> dict[str, float]:
        """Split-level numbers from the means over the split of ``evaluation_metrics`` (vector-valued ones,
        such as code counts, become e.g. usage and perplexity here)."""
        return {key: float(value) for key, value in means.items()}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
