"""Shared fixtures: data availability (tests that need data skip with the reason) and small models."""
from __future__ import annotations

import os

import pytest
import torch

from genzoo.data.root import search_roots


def _has(relpaths: list[str]) -> bool:
    return any(all((root / rel).is_file() for rel in relpaths) for root in search_roots())


STATIC = [f"binarized_mnist/binarized_mnist_{s}.amat.gz" for s in ("train", "valid", "test")]
MNIST_RAW = ["MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/t10k-images-idx3-ubyte"]

needs_binarized_mnist = pytest.mark.skipif(
    not _has(STATIC), reason=f"static binarized MNIST not found in {[str(r) for r in search_roots()]}; set GENZOO_DATA")
needs_mnist = pytest.mark.skipif(
    not _has(MNIST_RAW), reason=f"MNIST raw files not found in {[str(r) for r in search_roots()]}; set GENZOO_DATA")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Parsed-data caches go to one temporary folder per test session, never into the user's home.
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path_factory.getbasetemp() / "genzoo-cache"))
    torch.manual_seed(0)


def pytest_report_header(config):
    return f"GENZOO_DATA={os.environ.get('GENZOO_DATA', '(unset)')}"


@pytest.fixture(autouse=True)
def _fresh_accelerator_state():
    # Accelerate keeps one process-wide state; each test builds its own Accelerator (precision, cpu flag).
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)
