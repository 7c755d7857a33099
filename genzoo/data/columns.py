"""A user's own column of numbers (``toy1d`` with ``target: file``), read strictly.

- ``.npy``: a real array of shape (N,) or (N, 1); any other shape, complex or non-numeric values are errors.
- ``.csv``: the first column, the separator found by ``csv.Sniffer`` among ``,``, ``;`` and tab. A first row
  whose first cell is not a number is a header and skipped; after it every first cell must be a number, else the
  error names the row. A decimal comma (``1,764``) in a ``;``- or tab-separated file is an error naming the
  row; in a comma-separated file ``1,764`` is two cells, so the first column reads 1 (write decimals with a dot).
- NaN or infinite values are errors, and a column needs at least ``MIN_VALUES`` values, so that the 80/10/10
  split leaves none of train, valid and test empty.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

MIN_VALUES = 10


def _read_npy(path: Path) -> np.ndarray:
    try:
        values = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"{path}: not a plain numeric .npy array ({exc})") from exc
    if np.iscomplexobj(values):
        raise ValueError(f"{path}: complex values; expected real numbers")
    if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        raise ValueError(f"{path}: dtype {values.dtype}; expected numbers")
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"{path}: shape {values.shape}; expected one column, (N,) or (N, 1)")
    return values.astype(np.float64)


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _read_csv(path: Path) -> np.ndarray:
    text = path.read_text()
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","  # one column: nothing to sniff
    rows = [(i + 1, row) for i, row in enumerate(csv.reader(text.splitlines(), delimiter=delimiter)) if row]
    if rows and _number(rows[0][1][0].strip()) is None:
        rows = rows[1:]  # a header row
    values = []
    for line, row in rows:
        cell = row[0].strip()
        value = _number(cell)
        if value is None and delimiter != "," and _number(cell.replace(",", ".")) is not None:
            raise ValueError(f"{path}, row {line}: {cell!r} has a decimal comma; write decimals with a dot")
        if value is None:
            raise ValueError(f"{path}, row {line}: {cell!r} is not a number")
        values.append(value)
    return np.array(values, dtype=np.float64)


def load_column(path: str | Path) -> np.ndarray:
    """A user's numbers as float64 (N,), checked as the module docstring says."""
    path = Path(path)
    if path.suffix == ".npy":
        values = _read_npy(path)
    elif path.suffix == ".csv":
        values = _read_csv(path)
    else:
        raise ValueError(f"{path}: expected a .npy or .csv file")
    if not np.isfinite(values).all():
        raise ValueError(f"{path}: {int((~np.isfinite(values)).sum())} values are NaN or infinite")
    if len(values) < MIN_VALUES:
        raise ValueError(f"{path}: {len(values)} values; an 80/10/10 train/valid/test split needs at least "
                         f"{MIN_VALUES}")
    return values


def split_column(values: np.ndarray, split: str, seed: int = 0) -> np.ndarray:
    """80/10/10 train/valid/test of a user's column, after one seeded shuffle (none empty from MIN_VALUES on)."""
    order = np.random.RandomState(seed).permutation(len(values))
    n_train, n_valid = int(0.8 * len(values)), int(0.1 * len(values))
    parts = {"train": order[:n_train], "valid": order[n_train:n_train + n_valid], "test": order[n_train + n_valid:]}
    return values[parts[split]]
