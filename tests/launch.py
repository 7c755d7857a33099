"""Fresh CPU processes through torchrun (gloo), for the tests of multi-process behaviour."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def torchrun(*args, processes: int = 2) -> None:
    """Run ``args`` (a script and its arguments) in ``processes`` CPU processes; Accelerate, where used, picks
    up torchrun's environment and runs MULTI_CPU with gloo."""
    # --standalone: a free port for each launch, so launches in a row never collide on the default one
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
               *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
