import json
import math
from pathlib import Path

import pytest

from genzoo.budget import EVALS_PER_RUN, SAFETY, Budget, Run, fitted_steps, lane_threads, load_plan, pick_best

ROOT = Path(__file__).resolve().parent.parent


def write_plan(tmp_path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


def test_the_shipped_plan_loads_and_names_its_cross_lane_runs():
    lanes = load_plan(ROOT / "plans" / "h200_ar_gan_ign.yaml")
    final = lanes["gan-c"][-1]
    assert final.steps == "fit" and "gan-a/base" in final.best_of and "gan-c/width-64" in final.best_of
    assert all(Path(ROOT / run.config).is_file() for runs in lanes.values() for run in runs)


@pytest.mark.parametrize("text, words", [
    ("lanes: {a: [{name: x, config: c.yaml, steps: 10, lr: 1}]}", "unknown run key"),
    ("lanes: {a: [{name: x, config: c.yaml, steps: 10}, {name: x, config: c.yaml, steps: 5}]}", "two runs named"),
    ("lanes: {a: [{name: x, config: c.yaml, steps: fit, best_of: [y]}, {name: y, config: c.yaml, steps: 5}]}",
     "no earlier run"),
    ("lanes: {a: [{name: x, config: c.yaml, steps: fit, best_of: [b/z]}], b: [{name: y, config: c, steps: 5}]}",
     "best_of must name runs of fixed steps"),
    ("lanes: {a: [{name: x, config: c.yaml, steps: 2.5}]}", "steps must be a positive integer or 'fit'"),
    ("runs: []", "one key, 'lanes'"),
])
def test_a_bad_plan_is_refused_naming_the_problem(tmp_path, text, words):
    with pytest.raises(ValueError, match=words):
        load_plan(write_plan(tmp_path, text))


def test_fitted_steps_leave_the_scaled_overhead_and_a_safety_margin():
    # a probe of 1 validation spent 8 s outside its steps: the fitted run's overhead is 8 (8 + 3) / (1 + 3) = 22 s
    expected = math.floor(SAFETY * (300 - 8 * (EVALS_PER_RUN + 3) / 4) / 0.05)
    assert fitted_steps(300, 0.05, 8, source_evals=1) == expected
    assert fitted_steps(10, 0.05, 8, source_evals=1) == 0  # less time than overhead: none, not negative


def test_lanes_share_the_cores_unless_the_environment_sets_the_threads():
    assert lane_threads(2, 2, {}) == 1 and lane_threads(6, 16, {}) == 2 and lane_threads(3, 2, {}) == 1
    assert lane_threads(1, 16, {}) == 16 and lane_threads(2, None, {}) == 1
    assert lane_threads(2, 16, {"OMP_NUM_THREADS": "3"}) == 3
    assert lane_threads(2, 16, {"OMP_NUM_THREADS": "0"}) == 8 and lane_threads(2, 16, {"OMP_NUM_THREADS": "x"}) == 8


def test_each_run_gets_the_lane_threads_in_its_environment(tmp_path, monkeypatch):
    seen = []

    def fake_run(command, **kwargs):
        seen.append(kwargs["env"]["OMP_NUM_THREADS"])
        return type("Done", (), {"returncode": 0})()

    monkeypatch.setattr("genzoo.budget.subprocess.run", fake_run)
    plan = write_plan(tmp_path, "lanes:\n  one:\n    - {name: a, config: configs/gan_mnist.yaml, steps: 10}\n")
    budget = Budget(load_plan(plan), tmp_path / "out", budget_s=60, grace_s=1, extra=[], threads=3)
    run = budget.lanes["one"][0]
    record = budget.execute(run, run.name, 10, [])
    assert seen == ["3"] and record["threads"] == 3 and record["status"] == "done"


def test_pick_best_takes_the_lowest_finite_metric():
    runs = [Run("a", n, "c.yaml", 5) for n in "wxyz"]
    runs[0].record = {"metrics": {"valid_fid": 30.0}}
    runs[1].record = {"metrics": {"valid_fid": math.nan}}
    runs[2].record = {"metrics": {"valid_fid": 20.0}}
    runs[3].record = {"status": "exit 1"}
    assert pick_best(runs, "valid_fid").name == "y"
    with pytest.raises(RuntimeError, match="finite 'valid_nll'"):
        pick_best(runs, "valid_nll")


def test_a_plan_runs_its_lanes_and_fits_the_last_run_to_the_budget(tmp_path, monkeypatch):
    fitted = []  # the arithmetic is tested above; here the steps it gives, whatever this machine's load
    monkeypatch.setattr("genzoo.budget.fitted_steps", lambda *args: fitted.append(args) or 250)
    config = ROOT / "configs" / "fourier_gmm10.yaml"
    plan = write_plan(tmp_path, f"""lanes:
  one:
    - {{name: a, config: {config}, steps: 40, metric: valid_nll, overrides: [train.lr=0.01]}}
    - {{name: b, config: {config}, steps: 40, metric: valid_nll, overrides: [train.lr=0.0001]}}
    - {{name: best, config: {config}, steps: fit, best_of: [a, b], metric: valid_nll}}
""")
    out = tmp_path / "out"
    Budget(load_plan(plan), out, budget_s=600, grace_s=30, extra=[]).run()
    summary = json.loads((out / "summary.json").read_text())["one"]
    a, b, best = summary["a"], summary["b"], summary["best"]
    assert a["status"] == b["status"] == best["status"] == "done", summary
    winner = "a" if a["metrics"]["valid_nll"] < b["metrics"]["valid_nll"] else "b"
    assert best["overrides"] == summary[winner]["overrides"] and best["steps"] == 250
    (seconds_left, per_step, overhead, evals), = fitted
    assert 0 < seconds_left <= 600 and per_step > 0
    if summary[winner]["train_seconds"]:  # timed by the chosen run, no probe
        assert per_step == summary[winner]["train_seconds"] / 40 and evals == 2
    else:  # 40 steps too quick to time (exports round to 0.1 s): a probe timed the run
        assert (out / "one" / "best-probe" / "model.safetensors").is_file() and evals == 1
    keep = (out / "keep.txt").read_text().split()
    assert "one/best/model.safetensors" in keep and "one/a/model.safetensors" not in keep
    assert all((out / p).is_file() for p in keep)


def test_a_run_killed_before_its_export_keeps_its_last_validation(tmp_path):
    from genzoo.budget import ended_metrics

    assert ended_metrics(tmp_path) == {}  # nothing ran
    records = [{"step": 50, "loss": 3.0}, {"step": 100, "valid_fid": 900.0, "valid_class_shares": [0.5, 0.5]},
               {"step": 150, "loss": 2.0}, {"step": 200, "valid_fid": 800.0, "valid_class_shares": [0.4, 0.6]},
               {"step": 250, "loss": 1.0}]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert ended_metrics(tmp_path) == {"metrics": {"valid_fid": 800.0, "valid_class_shares": [0.4, 0.6]},
                                       "evaluated_step": 200}
