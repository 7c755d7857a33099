"""A training run's folder: nothing in it is lost to another run, and resuming reads no pickle genzoo wrote.

- A new run refuses a folder that holds a run (its own finished one included) unless told to resume it or to
  overwrite it; every process checks before any of them writes.
- One trainer at a time: while a run trains, its main process holds an exclusive lock on the folder, so a
  second trainer of the same folder (another shell, a relaunch while the first still runs) is refused instead
  of resuming from, pruning and cleaning up after the live one.
- ``checkpoints/history.json`` lists the run's saved states in the order it saved them: pruning removes the
  oldest of *this* history and ``--resume latest`` takes its last entry, so states of an abandoned future
  (after resuming from an older state) are neither taken for the latest nor pruned in its place.
- genzoo's own state (step counters, loader position, EMA weights) is JSON and safetensors inside each
  checkpoint folder; Accelerate's files (model, optimizer, scheduler, RNG states) are loaded by Accelerate
  with ``torch.load(weights_only=True)``.
- A resumed ``log.jsonl`` is cut back to the resumed step, so it reads as the log of one uninterrupted run;
  temporaries left by a killed writer are removed when the run starts again.
"""
from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; the folder checks below still apply
    fcntl = None

from safetensors.torch import load_file, save_file

RUN_FILES = ("log.jsonl", "config.json", "checkpoints", "samples", "best.safetensors", "model.safetensors")
HISTORY = "history.json"
LOCK = ".lock"  # holds the pid of the process training the run
STATE_FILE, EMA_FILE = "genzoo_state.json", "genzoo_ema.safetensors"


class RunFolderError(RuntimeError):
    """The output folder holds another run (or this run's finished one) and neither resume nor overwrite
    was asked for."""


@contextmanager
def exclusive(out: Path, accelerator):
    """Hold an exclusive lock on ``out`` (main process) while the body runs, or raise ``RunFolderError`` on
    every process if another process holds it. The lock is ``flock`` on ``out/.lock``: the operating system
    releases it when its holder ends, killed or not, so a crashed run never leaves the folder locked."""
    from accelerate.utils import broadcast_object_list

    handle, holder = None, None
    if accelerator.is_main_process and fcntl is not None:
        out.mkdir(parents=True, exist_ok=True)
        handle = open(out / LOCK, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            handle = None
        else:
            handle.truncate(0)
            handle.write(str(os.getpid()))
            handle.flush()
    holder = broadcast_object_list([holder])[0]
    if holder is not None:
        raise RunFolderError(f"{out} is being trained by another process (pid {holder}); wait for it to end or "
                             "stop it, then --resume latest, or train into another train.output_dir")
    try:
        yield
    finally:
        if handle is not None:
            handle.close()  # releases the lock


def prepare(out: Path, accelerator, resume: str | None, overwrite: bool) -> None:
    """Check ``out`` on every process, then (main process) clear it if ``overwrite`` and remove stale
    temporaries; barriers on both sides so no process sees another's writes."""
    existing = [name for name in RUN_FILES if (out / name).exists()]
    if existing and not resume and not overwrite:
        raise RunFolderError(
            f"{out} already holds a run ({', '.join(existing)}); continue it with --resume latest, train into "
            "another train.output_dir, or replace it with --overwrite (train(..., overwrite=True))")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if overwrite and not resume:
            for name in existing:
                path = out / name
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        remove_stale_temporaries(out)
    accelerator.wait_for_everyone()


def remove_stale_temporaries(out: Path) -> list[Path]:
    """Half-written files of a killed writer: ``.<name>.*.tmp`` (atomic saves) and ``.tmp_step_*`` folders."""
    stale = list(out.glob(".*.tmp")) + list((out / "checkpoints").glob(".tmp_step_*"))
    for path in stale:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return stale


def _write_json(path: Path, value) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)  # atomic: a kill leaves the old file or the new one


def history(out: Path) -> list[str]:
    """Saved states of the run, oldest first (name order for runs from before the history file)."""
    root = out / "checkpoints"
    if (root / HISTORY).is_file():
        return [name for name in json.loads((root / HISTORY).read_text()) if (root / name).is_dir()]
    return sorted(p.name for p in root.glob("step_*"))


def resolve_resume(out: Path, resume: str | None) -> str | None:
    """What ``--resume`` means for ``out``, before anything is written: ``"auto"`` is ``"latest"`` where the run
    saved a state and None (a fresh start) where it saved none, so one command serves a scheduler's first start
    and every requeue; ``"latest"`` with no saved state is an error naming ``auto``; None or a folder as given.
    A fresh start under ``auto`` replaces what a run killed before its first save left (its log, config,
    previews, best-on-valid file), never a finished model."""
    if resume not in ("auto", "latest"):
        return resume
    if history(out):
        return "latest"
    if resume == "latest":
        raise RunFolderError(f"--resume latest: {out} holds no saved state to resume from; --resume auto resumes "
                             "the latest state where there is one and starts fresh where there is none")
    if (out / "model.safetensors").exists():
        raise RunFolderError(f"--resume auto: {out} holds a finished model (model.safetensors) but no saved state "
                             "to resume; train into another train.output_dir, or replace it with --overwrite")
    return None


def latest_checkpoint(out: str | Path) -> Path:
    """The run's last saved, complete ``save_state`` folder."""
    saved = history(Path(out))
    if not saved:
        raise FileNotFoundError(f"no checkpoint to resume from in {Path(out) / 'checkpoints'}")
    return Path(out) / "checkpoints" / saved[-1]


def record_and_prune(out: Path, name: str, keep: int) -> None:
    """Append the state just saved to the history; remove the history's oldest states beyond ``keep``."""
    saved = [n for n in history(out) if n != name] + [name]
    for old in saved[:-keep]:
        shutil.rmtree(out / "checkpoints" / old, ignore_errors=True)
    _write_json(out / "checkpoints" / HISTORY, saved[-keep:])


def resumed_from(out: Path, folder: Path) -> None:
    """Cut the history after the state resumed from: later states belong to a future this run rewrites."""
    saved = history(out)
    if folder.name in saved:
        _write_json(out / "checkpoints" / HISTORY, saved[: saved.index(folder.name) + 1])


def truncate_log(path: Path, step: int) -> None:
    """Keep the records of steps <= ``step`` (and no final record): what an uninterrupted run had logged."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record.get("step", 0) <= step and "final" not in record:
            kept.append(line + "\n")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(kept))
    os.replace(tmp, path)


def save_genzoo_state(folder: Path, counters: dict, ema=None) -> None:
    """Counters (JSON) and EMA weights (safetensors) beside Accelerate's files in a checkpoint folder."""
    (folder / STATE_FILE).write_text(json.dumps(counters))
    if ema is not None:
        save_file({k: v.detach().cpu().contiguous() for k, v in ema.state_dict().items()}, str(folder / EMA_FILE))


def load_genzoo_state(folder: Path, ema=None) -> dict:
    """The counters saved by ``save_genzoo_state``; loads the EMA weights into ``ema`` in place."""
    if not (folder / STATE_FILE).is_file():
        raise FileNotFoundError(f"{folder} has no {STATE_FILE}: not a checkpoint of this genzoo version")
    if ema is not None:
        ema.load_state_dict({k: v for k, v in load_file(str(folder / EMA_FILE)).items()})
    return json.loads((folder / STATE_FILE).read_text())

