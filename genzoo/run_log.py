"""What a training run reports: ``log.jsonl`` records, an Accelerate tracker, and the console.

Only the main process writes or prints. On a terminal the console shows a tqdm bar with the latest loss;
elsewhere (a file, CI, nohup) it prints one plain line per record, so a log is readable line by line.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from tqdm.auto import tqdm


def format_record(record: dict, total_steps: int) -> str:
    """``{"step": 50, "loss": 91.2, ...}`` -> ``step 50/1000  loss 91.2  ...`` (floats to 5 significant digits)."""
    parts = [f"step {record['step']}/{total_steps}"]
    for key, value in record.items():
        if key != "step":
            parts.append(f"{key} {value:.5g}" if isinstance(value, float) else f"{key} {value}")
    return "  ".join(parts)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def learning_curve(path: Path) -> list[dict]:
    """The learning curve in a run's ``log.jsonl``: each training and validation record's step, numbers and
    lists of numbers (a class histogram), the final record with the test metrics left out, e.g. ``[{"step": 50,
    "loss": 91.2, "lr": 1e-3}, {"step": 500, "valid_nll": 88.9}, ...]``. A resumed run's log is cut back to its
    resumed step, so this is the curve of the run as if never stopped."""
    curve = []
    for line in Path(path).read_text().splitlines() if Path(path).is_file() else []:
        record = json.loads(line)
        if "final" not in record:
            curve.append({k: v for k, v in record.items()
                          if is_number(v) or isinstance(v, list) and v and all(map(is_number, v))})
    return curve


def last_validation(path: Path) -> dict:
    """The last validation record of a run's ``log.jsonl`` (its step and ``valid_*`` numbers and lists), or ``{}``:
    what is known of a run that was stopped before it exported."""
    evaluated = [r for r in learning_curve(path) if any(k.startswith("valid_") for k in r)]
    return {k: v for k, v in evaluated[-1].items() if k == "step" or k.startswith("valid_")} if evaluated else {}


def continued_curve(before: list[dict], after: list[dict], start: int | None = None) -> list[dict]:
    """The curve of a run warm-started from a checkpoint (``after``) continued from that checkpoint's own
    (``before``), so one plot shows both pieces end to end. ``start`` is the step of the weights the run started
    from (the checkpoint's ``training_cost`` steps): ``after`` is shifted by it, and the records of ``before`` past
    it (its run went on beyond the weights it exported, e.g. the best valid step) are left out, since the new run
    did not start from there. None: the last step of ``before``."""
    if start is None:
        start = max((r["step"] for r in before), default=0)
    return [r for r in before if r["step"] <= start] + [{**r, "step": r["step"] + start} for r in after]


class RunLog:
    def __init__(self, accelerator, path: Path, total_steps: int, initial_step: int, name: str,
                 tracker: str | None = None, interactive: bool | None = None):
        self.accelerator, self.path, self.total, self.tracker = accelerator, Path(path), total_steps, tracker
        self.main = accelerator.is_main_process
        interactive = sys.stderr.isatty() if interactive is None else interactive
        self.bar = tqdm(total=total_steps, initial=initial_step, desc=name, dynamic_ncols=True) \
            if self.main and interactive else None

    def advance(self, loss: float | None = None) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if loss is not None:
                self.bar.set_postfix(loss=f"{loss:.4g}", refresh=False)

    def record(self, record: dict, echo: bool = True) -> None:
        """Append ``record`` to log.jsonl, send its numbers to the tracker, and print it (unless a bar already
        shows it: training records only update the bar on a terminal)."""
        if self.tracker:
            self.accelerator.log({k: v for k, v in record.items() if is_number(v) and k != "step"},
                                 step=record["step"])
        if not self.main:
            return
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        if echo:
            self.print(format_record(record, self.total))

    def print(self, text: str) -> None:
        if not self.main:
            return
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
