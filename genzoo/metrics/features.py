"""The feature network of the sample metrics: a shipped classifier's penultimate features and logits."""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from functools import lru_cache

import torch

_REFERENCE_OUTPUTS: OrderedDict[tuple, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()


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


def reference_outputs(name: str, images: torch.Tensor, keep: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """``classifier_outputs`` of a reference set (a split's images) by the shipped classifier ``name``, computed
    once per process for each content (keyed by a SHA-1 of the images, so a changed set is never served stale):
    every check, evaluation and export scores against the same 10000 test digits, 6 s of one CPU core each time
    otherwise. The ``keep`` latest sets are kept. Read only."""
    images = images.detach().cpu().contiguous()
    key = (name, tuple(images.shape), str(images.dtype), hashlib.sha1(images.numpy().tobytes()).hexdigest())
    if key not in _REFERENCE_OUTPUTS:
        _REFERENCE_OUTPUTS[key] = classifier_outputs(load_classifier(name), images)
        while len(_REFERENCE_OUTPUTS) > keep:
            _REFERENCE_OUTPUTS.popitem(last=False)
    _REFERENCE_OUTPUTS.move_to_end(key)
    return _REFERENCE_OUTPUTS[key]
