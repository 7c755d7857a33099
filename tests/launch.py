"""Fresh CPU processes through torchrun (gloo), for the tests of multi-process behaviour."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def torchrun(*args, processes: int = 2) -> str:
    """Run ``args`` (a script and its arguments) in ``processes`` CPU processes; Accelerate, where used, picks
    up torchrun's environment and runs MULTI_CPU with gloo."""
    # --standalone: a free port for each launch, so launches in a row never collide on the default one;
    # "--": what follows is the script's, so its options (--n) are not taken for abbreviations of torchrun's
    return _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
                 "--"], args)


def _run(launcher: list[str], args) -> str:
    """Run the launch; its stdout, or an assertion error with each rank's error."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([*launcher, *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    # torchrun prefixes each rank's traceback with "[rankN]:"; the last such line of each rank is its error,
    # which a plain tail of the interleaved output can cut off.
    errors = {}
    for line in done.stderr.splitlines():
        match = re.match(r"\[rank(\d+)\]: (\S+(Error|Exception)\b.*)", line)
        if match:
            errors[int(match.group(1))] = match.group(2)
    summary = "".join(f"rank {rank}: {error}\n" for rank, error in sorted(errors.items()))
    assert done.returncode == 0, summary + done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def assert_one_run_logged(output_dir: Path, steps: int, log_every: int = 1) -> None:
    """The run directory holds the log of one run of ``steps`` steps: each step recorded once. Processes that
    each believe they are the main one (a launch Accelerate does not see as distributed) log every step twice."""
    records = [json.loads(line) for line in (Path(output_dir) / "log.jsonl").read_text().splitlines()]
    logged = [r["step"] for r in records if "loss" in r]
    assert logged == list(range(log_every, steps + 1, log_every)), logged
