"""A run's folder: nothing lost to another run, resumes that read no pickle genzoo wrote, logs of one run,
no non-finite state saved (issue "Nothing lost, nothing trusted", items 1-4)."""
from __future__ import annotations

import json
import math
import pickle
import shutil

import pytest
import torch

from genzoo import load_pretrained
from genzoo.data import BinarizedMNISTData, Splits
from genzoo.run_folder import RunFolderError, exclusive, history, latest_checkpoint
from genzoo.training import NonFiniteLossError, train
from tests.conftest import needs_binarized_mnist
from tests.test_training import config, poison_loss, tiny_made

pytestmark = needs_binarized_mnist


def data():
    return Splits(BinarizedMNISTData())


def records(run):
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_a_new_run_refuses_a_folder_holding_a_finished_run(tmp_path):
    cfg = config(tmp_path, max_steps=3)
    first = train(tiny_made(), data(), cfg)
    before = first["path"].read_bytes()
    with pytest.raises(RunFolderError, match="already holds a run .*--resume latest.*--overwrite"):
        train(tiny_made(), data(), cfg)
    assert first["path"].read_bytes() == before  # the finished model is untouched
    second = train(tiny_made(), data(), config(tmp_path, max_steps=3, lr=1e-3), overwrite=True)
    assert [r["step"] for r in records(tmp_path / "run") if "loss" in r] == [1, 2, 3]  # one run's log
    assert second["path"].read_bytes() != before


def test_a_folder_being_trained_refuses_a_second_trainer_and_is_free_again_after(tmp_path):
    from accelerate import Accelerator

    cfg = config(tmp_path, max_steps=3)
    first = train(tiny_made(), data(), cfg)  # ends with the lock released ...
    with exclusive(tmp_path / "run", Accelerator(cpu=True)):  # ... so it can be taken: a trainer in progress
        before = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
        with pytest.raises(RunFolderError, match=r"being trained by another process \(pid \d+\)"):
            train(tiny_made(), data(), config(tmp_path, max_steps=6), resume="latest")
        assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == before
    resumed = train(tiny_made(), data(), config(tmp_path, max_steps=6), resume="latest")  # the lock is free
    assert resumed["metrics"]["step"] > 0 and first["path"] == resumed["path"]


def test_pruning_and_latest_follow_the_runs_history_not_name_order(tmp_path):
    run = tmp_path / "run"
    train(tiny_made(), data(), config(tmp_path, max_steps=6, save_every=2, eval_every=2, keep_checkpoints=3))
    assert history(run) == ["step_00000002", "step_00000004", "step_00000006"]
    # resume from the oldest state with a shorter budget: step 4 is saved again, step 6 is an abandoned future
    train(tiny_made(), data(), config(tmp_path, max_steps=4, save_every=2, eval_every=2, keep_checkpoints=1),
          resume=str(run / "checkpoints" / "step_00000002"))
    assert latest_checkpoint(run).name == "step_00000004"  # name order would say step_00000006
    assert (run / "checkpoints" / "step_00000004").is_dir()  # pruning removed step 2, not the new state


def test_a_resumed_log_equals_an_uninterrupted_one(tmp_path):
    run = tmp_path / "run"
    cfg = config(tmp_path)
    train(tiny_made(), data(), cfg)
    full = records(run)
    shutil.rmtree(run / "checkpoints" / "step_00000006")  # killed after logging step 6, before saving it
    (run / ".model.safetensors.x1y2.tmp").write_bytes(b"half a file")  # and inside save_pretrained
    (run / "checkpoints" / ".tmp_step_00000006").mkdir()
    train(tiny_made(), data(), cfg, resume="latest")
    resumed = records(run)
    assert [sorted(r) for r in resumed] == [sorted(r) for r in full]
    assert [r["step"] for r in resumed] == [r["step"] for r in full]
    for a, b in zip(resumed, full):
        for key in a:
            if isinstance(a[key], float):
                assert a[key] == pytest.approx(b[key], rel=1e-6), key
    assert not list(run.glob(".*.tmp")) and not list((run / "checkpoints").glob(".tmp_step_*"))


class _Exploit:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))  # unpickling creates a file: code from the run folder ran


def test_resume_runs_no_code_from_the_run_folder(tmp_path):
    run = tmp_path / "run"
    cfg = config(tmp_path, max_steps=3)
    train(tiny_made(), data(), cfg)
    state = latest_checkpoint(run)
    assert not list(state.glob("custom_checkpoint_*.pkl"))  # genzoo's own state is JSON and safetensors
    assert (state / "genzoo_state.json").is_file() and (state / "genzoo_ema.safetensors").is_file()
    with open(state / "random_states_0.pkl", "wb") as fh:  # Accelerate loads it with weights_only=True
        pickle.dump(_Exploit(tmp_path / "pwned-rng"), fh)
    shutil.copytree(state, tmp_path / "copy")
    train(tiny_made(), data(), config(tmp_path, max_steps=4), resume="latest")
    with open(tmp_path / "copy" / "custom_checkpoint_0.pkl", "wb") as fh:  # nothing of genzoo's is registered:
        pickle.dump(_Exploit(tmp_path / "pwned-custom"), fh)  # Accelerate refuses the folder, unread
    with pytest.raises(RuntimeError, match="custom checkpoints"):
        train(tiny_made(), data(), config(tmp_path, max_steps=5), resume=str(tmp_path / "copy"))
    assert not list(tmp_path.glob("pwned-*"))


def test_a_non_finite_gradient_stops_before_the_step_and_nothing_non_finite_is_saved(tmp_path):
    model = tiny_made()  # at step 5, sqrt'(0) = inf: the loss stays finite, its gradient is NaN
    poison_loss(model, 5, lambda loss: loss + torch.sqrt(sum((p * 0).sum() for p in model.parameters())))
    cfg = config(tmp_path, save_every=2, eval_every=2, keep_checkpoints=1, grad_clip=0.0, ema_decay=0.0)
    with pytest.raises(NonFiniteLossError, match=r"gradient norm is nan at step 5 .*stopped before updating the "
                                                 r"weights. Last saved state: .*step_00000004"):
        train(model, data(), cfg)
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the step was not taken
    saved = latest_checkpoint(tmp_path / "run")
    assert saved.name == "step_00000004"
    from safetensors.torch import load_file

    assert all(torch.isfinite(t).all() for t in load_file(saved / "model.safetensors").values()
               if t.is_floating_point())


def test_a_run_that_ends_worse_than_it_started_says_so(tmp_path):
    with pytest.warns(RuntimeWarning, match="valid nll got worse than at the start"):
        result = train(tiny_made(), data(), config(tmp_path, lr=30.0, warmup_steps=0, grad_clip=0.0, ema_decay=0.0))
    assert math.isfinite(result["metrics"]["valid_nll"])
    assert load_pretrained(result["path"])  # still exported: the warning is the signal


def test_resume_auto_starts_fresh_then_resumes_with_the_same_command(tmp_path, capsys):
    """A scheduler repeats one command: the first start, a requeue after a kill, and a requeue of a finished
    run all take ``resume="auto"``; each says in its first line which it did."""
    run = tmp_path / "run"
    uninterrupted = train(tiny_made(), data(), config(tmp_path / "ref", max_steps=6))
    first = train(tiny_made(), data(), config(tmp_path, max_steps=6), resume="auto")
    assert "steps 1..6, fresh start (--resume auto)" in capsys.readouterr().out
    # killed after its state at step 3: the later state and log lines are gone; auto resumes from step 3
    shutil.rmtree(run / "checkpoints" / "step_00000006")
    (run / "model.safetensors").unlink()
    again = train(tiny_made(), data(), config(tmp_path, max_steps=6), resume="auto")
    assert "steps 4..6, resumed from step_00000003 (--resume auto)" in capsys.readouterr().out
    for result in (first, again):  # the resumed run ends where the uninterrupted one does
        assert result["metrics"]["valid_nll"] == pytest.approx(uninterrupted["metrics"]["valid_nll"], rel=1e-6)
    assert [r["step"] for r in records(run) if "loss" in r] == [1, 2, 3, 4, 5, 6]


def test_resume_auto_replaces_a_run_killed_before_its_first_save_but_never_a_finished_model(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.jsonl").write_text('{"step": 1, "loss": 9.0}\n')  # what a run killed in its first save leaves
    (run / "config.json").write_text("{}")
    (run / "checkpoints" / ".tmp_step_00000003").mkdir(parents=True)
    with pytest.raises(RunFolderError, match="already holds a run"):
        train(tiny_made(), data(), config(tmp_path, max_steps=3))  # a plain start still refuses it
    with pytest.raises(RunFolderError, match="--resume latest: .* no saved state .*--resume auto"):
        train(tiny_made(), data(), config(tmp_path, max_steps=3), resume="latest")
    train(tiny_made(), data(), config(tmp_path, max_steps=3), resume="auto")
    assert [r["step"] for r in records(run) if "loss" in r] == [1, 2, 3]  # one run's log, the leftover gone
    shutil.rmtree(run / "checkpoints")  # a finished model whose states are gone: auto must not replace it
    before = (run / "model.safetensors").read_bytes()
    with pytest.raises(RunFolderError, match="finished model"):
        train(tiny_made(), data(), config(tmp_path, max_steps=3), resume="auto")
    assert (run / "model.safetensors").read_bytes() == before


def test_the_training_command_refuses_in_one_line(tmp_path):
    import subprocess
    import sys

    from tests.launch import ROOT

    done = subprocess.run([sys.executable, "train/fourier.py", "--config", "configs/fourier_gmm10.yaml",
                           f"train.output_dir={tmp_path / 'new'}", "--resume", "latest"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: --resume latest:")
    assert "--resume auto" in done.stderr
