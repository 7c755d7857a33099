"""The feature network of the sample metrics: a shipped classifier's penultimate features and logits."""
from __future__ import annotations

from functools import lru_cache

import torch


@lru_cache(maxsize=4)
def load_classifier(name: str = "mnist-classifier"):
    """A shipped classifier checkpoint (its ``features`` and ``logits``), loaded once per process, on the CPU."""
    from genzoo.checkpoint import load_pretrained

    model = load_pretrained(name)
    if not (hasattr(model, "features") and hasattr(model, "logits")):
        raise ValueError(f"{name} is a {model.architecture!r}, not a classifier with features and logits")
    return model.eval()


@torch.no_grad()
def classifier_outputs(classifier, images: torch.Tensor, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, C, H, W) in [0, 1] -> (features (N, d), logits (N, K)), float64 on the CPU."""
    device = next(classifier.parameters()).device
    features, logits = [], []
    for start in range(0, images.shape[0], batch_size):
        h = classifier.features(images[start:start + batch_size].to(device).float())  # (b, d)
        features.append(h.double().cpu())
        logits.append(classifier.head(h).double().cpu())
    return torch.cat(features), torch.cat(logits)
