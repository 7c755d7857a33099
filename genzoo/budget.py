"""Train a plan of runs within a wall-clock budget: ``python train/budget.py --plan plan.yaml --budget-s 420``.

A plan names lanes; the lanes run at once (one process each at a time, so several small models share one GPU),
and the runs of a lane one after another, each in its own process through the ordinary training command::

    lanes:
      gan:
        - {name: hinge, config: configs/gan_mnist.yaml, steps: 4000}
        - {name: nonsat, config: configs/gan_mnist.yaml, steps: 4000, overrides: [model.loss=non_saturating]}
        - {name: final, config: configs/gan_mnist.yaml, steps: fit, best_of: [hinge, nonsat],
           metric: valid_fid}

``steps: fit`` gives a run the optimizer steps that fit in what is left of the budget: the seconds per step
come from a short probe run of the same config (or, with ``best_of``, from the chosen run), so that a cosine
schedule still ends where it should instead of being cut off. ``best_of`` takes the overrides of the named run
whose exported ``metric`` is lowest; ``lane/name`` names a run of another lane, which is waited for. A run
still going at the deadline (plus ``--grace-s``) is killed; its saved states remain. ``summary.json`` in the
output folder records every run's steps, times and metrics.

Each run gets ``--threads-per-lane`` torch threads (``OMP_NUM_THREADS``; default: the environment's, else the
machine's cores shared among the lanes), because lanes that each take every core run slower together than
apart (on 2 cores, two lanes of 2 threads each took 1.7 s per IGN step against 0.8 s at one thread each).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from genzoo.checkpoint import read_metadata
from genzoo.run_log import last_validation

PROBE_STEPS = 200
EVALS_PER_RUN = 8  # validations (and saved states) over a fitted run
FIXED_EVALS = 2  # ... and over a run of fixed steps (an ablation's point)
SAFETY = 0.85  # fraction of the estimated steps a fitted run asks for: the probe is read beside other lanes


@dataclass
class Run:
    lane: str
    name: str
    config: str
    steps: int | str  # a number, or "fit"
    overrides: list[str] = field(default_factory=list)
    best_of: list[str] = field(default_factory=list)
    metric: str = "valid_nll"
    record: dict = field(default_factory=dict)  # what happened: steps, seconds, status, metrics

    @property
    def key(self) -> str:
        return f"{self.lane}/{self.name}"

    def __post_init__(self):
        if self.steps != "fit" and (isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1):
            raise ValueError(f"plan run {self.key}: steps must be a positive integer or 'fit', "
                             f"got {self.steps!r}")


def load_plan(path: str | Path) -> dict[str, list[Run]]:
    """The plan's lanes, each a list of Runs; unknown keys, duplicate names and best_of naming no earlier run
    of the lane are errors."""
    plan = yaml.safe_load(Path(path).read_text()) or {}
    if set(plan) != {"lanes"} or not isinstance(plan["lanes"], dict):
        raise ValueError(f"{path}: a plan is a mapping with one key, 'lanes' (lane name -> list of runs)")
    lanes = {}
    for lane, runs in plan["lanes"].items():
        seen: set[str] = set()
        lanes[lane] = []
        for entry in runs:
            unknown = set(entry) - {"name", "config", "steps", "overrides", "best_of", "metric"}
            if unknown:
                raise ValueError(f"{path}: lane {lane}: unknown run key(s) {sorted(unknown)}")
            run = Run(lane=lane, **entry)
            if run.name in seen:
                raise ValueError(f"{path}: lane {lane}: two runs named {run.name!r}")
            run.best_of = [b if "/" in b else f"{lane}/{b}" for b in run.best_of]
            missing = [b for b in run.best_of if b.startswith(f"{lane}/") and b.split("/", 1)[1] not in seen]
            if missing:
                raise ValueError(f"{path}: lane {lane}: run {run.name!r} best_of names no earlier run {missing}")
            seen.add(run.name)
            lanes[lane].append(run)
    runs = {run.key: run for lane_runs in lanes.values() for run in lane_runs}
    for run in runs.values():
        unknown = [b for b in run.best_of if b not in runs or runs[b].steps == "fit"]
        if unknown:
            raise ValueError(f"{path}: run {run.key}: best_of must name runs of fixed steps in the plan: {unknown}")
    return lanes


def fitted_steps(seconds_left: float, seconds_per_step: float, overhead_s: float, source_evals: int) -> int:
    """Optimizer steps that fit in ``seconds_left``. ``overhead_s``: what the timed run (a probe, or the run a
    ``best_of`` chose) spent outside its steps, with ``source_evals`` validations during training. Start-up and
    the export's evaluations (about 3 validations' worth) and each validation are taken to cost alike, so the
    fitted run's overhead is that one's scaled by (EVALS_PER_RUN + 3) / (source_evals + 3); then ``SAFETY`` of
    what is left goes to steps."""
    overhead = overhead_s * (EVALS_PER_RUN + 3) / (source_evals + 3)
    return max(0, math.floor(SAFETY * (seconds_left - overhead) / seconds_per_step))


def lane_threads(lanes: int, cores: int | None, environment: dict[str, str]) -> int:
    """Torch threads per run: ``OMP_NUM_THREADS`` where the environment sets it, else the cores per lane."""
    if environment.get("OMP_NUM_THREADS", "").isdigit() and int(environment["OMP_NUM_THREADS"]) > 0:
        return int(environment["OMP_NUM_THREADS"])
    return max(1, (cores or 1) // max(1, lanes))


def pick_best(runs: list[Run], metric: str) -> Run:
    """The run whose exported ``metric`` is lowest (runs without it, or with a non-finite one, are passed over)."""
    names = [r.key for r in runs]
    scored = [(r.record["metrics"][metric], r) for r in runs
              if math.isfinite(r.record.get("metrics", {}).get(metric, math.nan))]
    if not scored:
        raise RuntimeError(f"best_of {names}: none of these runs exported a finite {metric!r}")
    return min(scored, key=lambda pair: pair[0])[1]


def ended_metrics(folder: Path) -> dict:
    """What a run's folder says of its result: the metrics of its export, else (a run killed before it exported)
    the valid metrics of its last evaluation in ``log.jsonl`` and the step they were measured at."""
    if (folder / "model.safetensors").is_file():
        metrics = read_metadata(folder / "model.safetensors")["metrics"]
        return {"metrics": metrics, "train_seconds": metrics.get("train_seconds")}
    last = last_validation(folder / "log.jsonl")
    return {"metrics": {k: v for k, v in last.items() if k != "step"}, "evaluated_step": last["step"]} if last else {}


class Budget:
    def __init__(self, lanes: dict[str, list[Run]], out: Path, budget_s: float, grace_s: float, extra: list[str],
                 threads: int | None = None):
        self.lanes, self.out, self.extra = lanes, out, extra
        self.threads = threads or lane_threads(len(lanes), os.cpu_count(), dict(os.environ))
        self.start = time.monotonic()
        self.deadline, self.grace = self.start + budget_s, grace_s
        self.lock = threading.Lock()
        self.runs = {run.key: run for runs in lanes.values() for run in runs}

    def log(self, text: str) -> None:
        with self.lock:
            print(f"[{time.monotonic() - self.start:7.1f} s] {text}", flush=True)

    def command(self, run: Run, name: str, steps: int, overrides: list[str], evals: int) -> list[str]:
        every = max(1, steps // evals)
        return [sys.executable, "-m", "genzoo.cli", "--config", run.config, *self.extra, *overrides,
                f"train.output_dir={self.out / run.lane / name}", f"train.max_steps={steps}",
                f"train.eval_every={every}", f"train.save_every={every}", "train.keep_checkpoints=1"]

    def execute(self, run: Run, name: str, steps: int, overrides: list[str], evals: int = EVALS_PER_RUN) -> dict:
        """One training process; its exported metrics and times (or how it ended)."""
        folder = self.out / run.lane / name
        folder.parent.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        timeout = max(1.0, self.deadline + self.grace - began)
        with open(folder.parent / f"{name}.out", "w") as log:
            try:
                code = subprocess.run(self.command(run, name, steps, overrides, evals), stdout=log,
                                      stderr=subprocess.STDOUT, timeout=timeout,
                                      env={**os.environ, "OMP_NUM_THREADS": str(self.threads)}).returncode
                status = "done" if code == 0 else f"exit {code}"
            except subprocess.TimeoutExpired:
                status = "killed at the deadline"
        record = {"steps": steps, "overrides": overrides, "evals": evals, "threads": self.threads,
                  "wall_s": round(time.monotonic() - began, 1), "status": status}
        record.update(ended_metrics(folder))
        shown = record.get("metrics", {}).get(run.metric)
        self.log(f"{run.lane}/{name}: {status}, {steps} steps, {record['wall_s']} s"
                 + (f", {run.metric} {shown:.5g}" if isinstance(shown, float) else ""))
        return record

    def ended(self, keys: list[str]) -> list[Run]:
        """The runs ``keys``, once each has ended (another lane's run is waited for, until the deadline)."""
        runs = [self.runs[key] for key in keys]
        while not all(r.record for r in runs) and time.monotonic() < self.deadline:
            time.sleep(1.0)
        return [r for r in runs if r.record]

    def fit(self, run: Run) -> None:
        overrides, timing = list(run.overrides), None
        if run.best_of:
            best = pick_best(self.ended(run.best_of), run.metric)
            overrides = best.record["overrides"] + overrides
            timing = best.record
            self.log(f"{run.key}: best of {len(run.best_of)} runs on {run.metric} is {best.key}")
        if timing is None or not timing.get("train_seconds"):
            timing = self.execute(run, f"{run.name}-probe", PROBE_STEPS, overrides + [
                "train.test_at_end=false", "train.preview_images=0", "train.select_best=false"], evals=1)
        if not timing.get("train_seconds"):
            raise RuntimeError(f"{run.key}: its probe exported no train_seconds ({timing['status']})")
        per_step = timing["train_seconds"] / timing["steps"]
        overhead = max(1.0, timing["wall_s"] - timing["train_seconds"])
        steps = fitted_steps(self.deadline - time.monotonic(), per_step, overhead, timing["evals"])
        self.log(f"{run.key}: {per_step * 1e3:.1f} ms per step, {overhead:.0f} s fixed -> {steps} steps")
        if steps < PROBE_STEPS:
            run.record = {"status": "no time left", "steps": 0, "overrides": overrides}
            return
        run.record = self.execute(run, run.name, steps, overrides)

    def lane(self, name: str) -> None:
        for run in self.lanes[name]:
            try:
                if time.monotonic() >= self.deadline:
                    run.record = {"status": "not started: past the deadline", "steps": 0}
                elif run.steps == "fit":
                    self.fit(run)
                else:
                    run.record = self.execute(run, run.name, run.steps, list(run.overrides), evals=FIXED_EVALS)
            except Exception as exc:  # one run's failure ends neither its lane nor the others
                run.record = {"status": f"failed: {type(exc).__name__}: {exc}", "steps": 0}
                self.log(f"{run.key}: {run.record['status']}")
            run.record = {"config": run.config, "overrides": list(run.overrides), **run.record}
            self.write_summary()

    def write_summary(self) -> None:
        with self.lock:
            summary = {lane: {run.name: run.record for run in runs} for lane, runs in self.lanes.items()}
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "summary.json").write_text(json.dumps(summary, indent=2))

    def run(self) -> None:
        threads = [threading.Thread(target=self.lane, args=(name,), name=name) for name in self.lanes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.write_summary()
        (self.out / "keep.txt").write_text("".join(f"{p}\n" for p in self.results()))

    def results(self) -> list[str]:
        """The files worth copying off the machine, relative to the output folder: the summary, every run's
        console output, config, log and preview pictures, and the weights of the fitted runs (their exported
        model, else the best on valid so far); an ablation's weights stay behind, its numbers are in its log."""
        paths = [Path("summary.json")]
        for lane, runs in self.lanes.items():
            paths += sorted(p.relative_to(self.out) for p in (self.out / lane).glob("*.out"))
            for run in runs:
                folder = self.out / lane / run.name
                paths += [p.relative_to(self.out) for pattern in ("config.json", "log.jsonl", "samples/*.png")
                          for p in sorted(folder.glob(pattern))]
                weights = [folder / n for n in ("model.safetensors", "best.safetensors") if (folder / n).is_file()]
                if run.steps == "fit" and weights:
                    paths.append(weights[0].relative_to(self.out))
        return [str(p) for p in paths]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plan", required=True, help="YAML plan: lanes of runs")
    parser.add_argument("--budget-s", type=float, required=True, help="wall-clock seconds for the whole plan")
    parser.add_argument("--grace-s", type=float, default=30.0, help="a run still going this long after the "
                        "deadline is killed")
    parser.add_argument("--threads-per-lane", type=int, default=None, help="torch threads of each run (default: "
                        "$OMP_NUM_THREADS, else the cores shared among the lanes)")
    parser.add_argument("--out", default="runs/budget", help="folder of the lanes' run folders and summary.json")
    parser.add_argument("--data-root", default=None, help="folder with the datasets (else $GENZOO_DATA)")
    args = parser.parse_args(argv)
    extra = ["--data-root", args.data_root] if args.data_root else []
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        sys.exit(f"error: {out} already holds runs; give another --out")
    if args.threads_per_lane is not None and args.threads_per_lane < 1:
        sys.exit(f"error: --threads-per-lane must be at least 1, got {args.threads_per_lane}")
    Budget(load_plan(args.plan), out, args.budget_s, args.grace_s, extra, args.threads_per_lane).run()


if __name__ == "__main__":
    main()
