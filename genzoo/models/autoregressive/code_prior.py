"""A grid model as the prior of an autoencoder's code grids (van den Oord et al. 2017, "Neural Discrete
Representation Learning", sec. 3.2: a PixelCNN over the VQ-VAE's latents makes new images).

The config names the autoencoder checkpoint (``autoencoder: vqvae-rotation-mnist``); the model keeps the
content hash of its weights (``tensors_sha256`` of its metadata) in a buffer, so the exported prior records
which weights its codes came from. Training checks the data are that checkpoint's code grids; sampling decodes
through that checkpoint, loaded by name, and refuses it if its weights have changed since (a retrained
autoencoder gives other codes: its prior must be retrained too).
"""
from __future__ import annotations

import math

import torch

from genzoo.results import Report, ResultsTable, fmt

CODE_PRIOR_TABLE = ResultsTable(
    "code-prior",
    (("checkpoint", "l"), ("architecture", "l"), ("parameters", "r"), ("data", "l"), ("codes K", "r"),
     ("test NLL (nats per grid)", "r"), ("valid NLL", "r"), ("uniform prior H*W ln K", "r"), ("bits per code", "r")),
    order=1)


def hash_buffer(hex_digest: str) -> torch.Tensor:
    """A sha256 hex digest as a (32,) uint8 tensor, so it travels with the weights."""
    return torch.tensor(list(bytes.fromhex(hex_digest)), dtype=torch.uint8)


def hex_digest(buffer: torch.Tensor) -> str:
    return bytes(buffer.tolist()).hex()


def autoencoder_hash(name: str) -> str:
    """The content hash of the autoencoder checkpoint ``name``'s weights (read from its metadata)."""
    from genzoo.checkpoint import read_metadata

    return read_metadata(name)["tensors_sha256"]


def load_autoencoder(name: str, expected_hash: str, device: torch.device):
    """The autoencoder ``name``, refused when its weights are not those the prior was trained on."""
    from genzoo.checkpoint import load_pretrained

    model = load_pretrained(name, device=device)
    found = model.pretrained_metadata["tensors_sha256"]
    if found != expected_hash:
        raise ValueError(f"this prior was trained on the codes of {name!r} with weights {expected_hash[:12]}..., "
                         f"but {name!r} now holds weights {found[:12]}...: retrain the prior on its new codes")
    if not hasattr(model, "decode_indices"):
        raise ValueError(f"{name!r} ({model.architecture}) cannot decode code grids (no decode_indices)")
    return model


def check_code_source(split, name: str, expected_hash: str, categories: int, grid: tuple[int, int]) -> None:
    """The training split holds the code grids of autoencoder ``name`` with the recorded weights, K and grid."""
    source = getattr(split, "source", {}) or {}
    if source.get("tensors_sha256") != expected_hash:
        raise ValueError(f"the model is a prior over the codes of {name!r} (weights {expected_hash[:12]}...), but the "
                         f"data are {source.get('autoencoder') or 'not code grids'!s} "
                         f"(weights {str(source.get('tensors_sha256'))[:12]}...): set data.name = code_grids, "
                         f"data.autoencoder = {name}")
    if split.num_classes != categories or tuple(split.data.shape[1:]) != tuple(grid):
        raise ValueError(f"{name!r} gives {split.num_classes} codes on a {tuple(split.data.shape[1:])} grid; the "
                         f"model has categories = {categories}, grid = {tuple(grid)}")


def code_prior_headline(report: Report) -> tuple[str, str]:
    """The front page's cells: the codes' NLL and the decoded samples' classifier FID, beside the uniform
    prior's H*W ln K (what a prior that learnt nothing would give)."""
    model, t = report.model, report.test
    return (f"NLL {fmt(t.get('nll'))} nats per code grid; classifier FID {fmt(t.get('fid'), 1)}",
            f"uniform prior {fmt(model.num_positions * math.log(model.categories))} nats")


def code_prior_row(report: Report) -> list[str]:
    """A row of CODE_PRIOR_TABLE: the test NLL of the codes beside the uniform prior's H*W ln K."""
    model = report.model
    uniform = model.num_positions * math.log(model.categories)
    nll = report.test.get("nll")
    bits = fmt(nll / model.num_positions / math.log(2), 3) if nll is not None else "-"
    return [f"`{report.name}`", model.architecture, f"{model.num_parameters():,}", report.dataset.describe(),
            str(model.categories), fmt(nll), fmt(report.valid.get("nll")), fmt(uniform), bits]
