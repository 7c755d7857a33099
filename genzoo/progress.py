"""Progress bars that a command switches on for the work it starts, without threading a flag through every
function between it and the loops (``genzoo.evaluate --full`` shows one per checkpoint and pass; a test or a
library call shows none)."""
from __future__ import annotations

import contextvars
import sys
from collections.abc import Iterable
from contextlib import contextmanager

from tqdm.auto import tqdm

_label: contextvars.ContextVar[str | None] = contextvars.ContextVar("genzoo_progress_label", default=None)


@contextmanager
def progress_shown(label: str):
    """Within it, ``progress`` bars are drawn on stderr, each named ``label`` and what it counts."""
    token = _label.set(label)
    try:
        yield
    finally:
        _label.reset(token)


def progress(iterable: Iterable, what: str, total: int | None = None) -> Iterable:
    """``iterable`` with a bar counting ``what`` inside ``progress_shown``; the iterable itself elsewhere."""
    label = _label.get()
    if label is None:
        return iterable
    return tqdm(iterable, desc=f"{label}: {what}", total=total, file=sys.stderr, leave=False, mininterval=1.0,
                dynamic_ncols=True)
