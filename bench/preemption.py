"""A run killed at random moments, inside saves too, and restarted each time with one command, against the same
run never stopped: the final weights and the log must be the same.

    python -m bench.preemption [--kills 20] [--seed 0] [--root runs/preemption] [--write-readme]

The command is what a scheduler repeats (``train/fourier.py --config configs/fourier_gmm10.yaml ...
--resume auto``), with a state saved every 10 steps so that many kills land inside ``save_state``. Each
attempt is killed with SIGKILL after it has printed 0 to 20 step lines (0: while it starts up), every other
one at the first half-written state (``.tmp_step_*``) it writes after that; after the last kill the
command runs to the end. A kill that leaves a ``.tmp_step_*`` folder was inside a
save. Weights are compared by their content hash, the logs record by record without the final record's
timing.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.common import publish

ROOT = Path(__file__).resolve().parent.parent
OVERRIDES = ["train.max_steps=4000", "train.save_every=10", "train.eval_every=100", "train.log_every=10",
             "train.warmup_steps=20", "train.keep_checkpoints=2", "train.cpu=true"]


def command(out: Path) -> list[str]:
    return [sys.executable, "train/fourier.py", "--config", "configs/fourier_gmm10.yaml", *OVERRIDES,
            f"train.output_dir={out}", "--resume", "auto"]


def attempt(out: Path, kill_after_lines: int | None, in_save: bool, startup_delay: float) -> tuple[bool, str]:
    """Run the command once: (finished on its own, how its first log line says it started). It is killed once
    it has printed ``kill_after_lines`` step lines (0: ``startup_delay`` seconds after its start, before it
    trains), with ``in_save`` at the first half-written state it writes after that; None: never."""
    proc = subprocess.Popen(command(out), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    start = time.perf_counter()
    while proc.poll() is None and kill_after_lines is not None:
        due = (sum(line.startswith("step ") for line in list(lines)) >= kill_after_lines if kill_after_lines
               else time.perf_counter() - start > startup_delay)
        if due and (not in_save or any((out / "checkpoints").glob(".tmp_step_*"))):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.0002)
    proc.wait()
    reader.join()
    if proc.returncode not in (0, -signal.SIGKILL):
        raise RuntimeError(f"the command failed (exit {proc.returncode}):\n{''.join(lines)[-2000:]}")
    first = next((line.strip() for line in lines if "(--resume auto)" in line), "-")
    return proc.returncode == 0, first.split(", ")[-1]


def log_records(out: Path) -> list[dict]:
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    for record in records:
        record.get("final", {}).pop("train_seconds", None)  # wall time: the one thing a kill changes
    return records


def weights_hash(out: Path) -> str:
    from genzoo.checkpoint import read_metadata

    return read_metadata(out / "model.safetensors")["tensors_sha256"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", type=Path, default=ROOT / "runs" / "preemption")
    parser.add_argument("--write-readme", action="store_true", help="also write the table into its page")
    args = parser.parse_args()
    shutil.rmtree(args.root, ignore_errors=True)
    reference, killed = args.root / "uninterrupted", args.root / "killed"
    start = time.perf_counter()
    assert attempt(reference, None, False, 0.0)[0]
    wall = time.perf_counter() - start
    rng = random.Random(args.seed)
    kills, in_saves, starts = 0, 0, []
    while True:
        # killed after 0 to 20 step lines (10 steps each; 0: while it starts), every other time inside a save
        lines = None if kills >= args.kills else rng.randint(0, 20)
        finished, first = attempt(killed, lines, in_save=kills % 2 == 1 and bool(lines),
                                  startup_delay=rng.uniform(0.2, 3.0))
        starts.append(first)
        if finished:
            break
        kills += 1
        in_saves += any((killed / "checkpoints").glob(".tmp_step_*"))
    same_weights = weights_hash(killed) == weights_hash(reference)
    same_log = log_records(killed) == log_records(reference)
    print("how each start began (its first log line):", "; ".join(starts))
    publish(f"`train/fourier.py --config configs/fourier_gmm10.yaml {' '.join(OVERRIDES)} --resume auto`, killed "
            f"with SIGKILL and started again (`python -m bench.preemption --kills {args.kills} --seed {args.seed}`)",
            ["kills", "inside a save", "starts of the one command", "uninterrupted run (s)",
             "final weights identical", "log identical (but for wall time)"],
            [[kills, in_saves, len(starts), f"{wall:.1f}", same_weights, same_log]], "preemption",
            args.write_readme)
    if not (same_weights and same_log):
        sys.exit(1)


if __name__ == "__main__":
    main()
