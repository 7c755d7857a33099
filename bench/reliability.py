"""Adversarial probes of genzoo's boundaries, each classified: ok (right answer), clear (an error naming the
problem), unclear (another error, or a hang), silent (a wrong answer and no error).

    python -m bench.reliability                       # this checkout
    python -m bench.reliability --genzoo /path/to/an/older/checkout   # the same probes against another one

Each probe runs in a fresh subprocess (a probe may allocate without bound or hang on older code) with the
checkout's folder first on PYTHONPATH and as the working directory, using only the API older checkouts share
(create_model, loss, sample, load_pretrained, save_pretrained, the quantizers, toy1d.load_column and the
train/*.py scripts).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PRELUDE = """
import os, pickle, socket, subprocess, sys, tempfile, numpy as np, torch
from pathlib import Path
import genzoo
from genzoo import create_model, load_pretrained, save_pretrained
TMP = Path(tempfile.mkdtemp())
def silent(why): print("SILENT", why); sys.exit(0)
def ok(): print("OK"); sys.exit(0)
def train(script, config, *overrides, resume=False):
    cmd = [sys.executable, script, "--config", config, *overrides] + (["--resume", "latest"] if resume else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env)
def raise_from(done):
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "exit status")
def rewrite(path, change):
    from safetensors import safe_open
    from safetensors.torch import save_file
    with safe_open(str(path), framework="pt") as fh:
        meta, t = dict(fh.metadata()), {k: fh.get_tensor(k) for k in fh.keys()}
    change(t)
    try:
        from genzoo.checkpoint import tensors_sha256
        meta["tensors_sha256"] = tensors_sha256(t)  # a consistent hash: only the deeper checks can tell
    except ImportError:
        pass
    save_file(t, str(path), metadata=meta)
TINY_AR = ["model.hidden=8", "train.max_steps=4", "train.eval_every=2", "train.save_every=2", "train.log_every=1",
           "train.cpu=true"]
"""

# (name, probe code, keyword a clear error names)
PROBES = [
    ("new run in a finished run's folder", """
        out = f"train.output_dir={TMP / 'run'}"
        raise_from(train("train/ar.py", "configs/made_binmnist.yaml", *TINY_AR, out))
        before = (TMP / "run" / "model.safetensors").read_bytes()
        second = train("train/ar.py", "configs/made_binmnist.yaml", *TINY_AR, "train.lr=0.5", out)
        raise_from(second)
        silent("the finished model was replaced") if (TMP / "run" / "model.safetensors").read_bytes() != before \\
            else silent("two runs in one folder")
    """, "already holds a run"),
    ("finite loss, infinite gradient (fourier lr=1000)", """
        done = train("train/fourier.py", "configs/fourier_gmm10.yaml", "train.lr=1000.0", "train.warmup_steps=50",
                     "train.save_every=3", "train.keep_checkpoints=1", "train.max_steps=300", "train.eval_every=300",
                     f"train.output_dir={TMP / 'f'}")
        from safetensors.torch import load_file
        saved = [t for f in (TMP / "f" / "checkpoints").glob("step_*/model.safetensors") for t in load_file(f).values()]
        if not all(torch.isfinite(t).all() for t in saved):
            silent("a NaN state was saved")
        raise_from(done)
        ok()
    """, "gradient norm"),
    ("code in a checkpoint folder's pickle runs on resume", """
        out = f"train.output_dir={TMP / 'run'}"
        raise_from(train("train/ar.py", "configs/made_binmnist.yaml", *TINY_AR, out))
        class Exploit:
            def __reduce__(self): return (open, (str(TMP / "pwned"), "w"))
        state = sorted((TMP / "run" / "checkpoints").glob("step_*"))[-1]
        for name in ["custom_checkpoint_0.pkl", "random_states_0.pkl"]:
            pickle.dump(Exploit(), open(state / name, "wb"))
        done = train("train/ar.py", "configs/made_binmnist.yaml", *TINY_AR, "train.max_steps=6", out, resume=True)
        silent("the pickle ran") if (TMP / "pwned").exists() else (ok() if done.returncode == 0 else raise_from(done))
    """, "custom_checkpoint"),
    ("flipped tensor bytes", """
        path = save_pretrained(create_model("nade", image_shape=(1, 2, 5), hidden=4), TMP / "n.safetensors")
        raw = bytearray(path.read_bytes()); raw[-3] ^= 0x10; path.write_bytes(bytes(raw))
        load_pretrained(path); silent("loaded")
    """, "content hash"),
    ("NaN weights", """
        path = save_pretrained(create_model("nade", image_shape=(1, 2, 5), hidden=4), TMP / "n.safetensors")
        rewrite(path, lambda t: t["W"].__setitem__((0, 0), float("nan")))
        load_pretrained(path); silent("loaded")
    """, "non-finite"),
    ("order buffer inconsistent with the config", """
        path = save_pretrained(create_model("made", image_shape=(1, 2, 5), hidden=6, order="random"), TMP / "m.safetensors")
        rewrite(path, lambda t: t.__setitem__("positions", t["positions"].flip(-1).contiguous()))
        load_pretrained(path); silent("loaded")
    """, "config gives"),
    ("download from a server that never answers", """
        from genzoo.data import binarized_mnist
        server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(8)
        binarized_mnist.SOURCE = f"http://127.0.0.1:{server.getsockname()[1]}/{{split}}.amat"
        os.environ.update(GENZOO_DATA=str(TMP / "none"), GENZOO_CACHE=str(TMP / "cache"), GENZOO_DOWNLOAD_TIMEOUT="1")
        binarized_mnist.load_static("test"); silent("loaded")
    """, "timed out"),
]

LOSS = [("NaN pixels", "x = torch.zeros(4, 1, 28, 28); x[0, 0, 0, 0] = float('nan')", "nan"),
        ("0.5 pixels", "x = torch.full((4, 1, 28, 28), 0.5)", "binary"),
        ("uint8 0/255 images", "x = (torch.rand(4, 1, 28, 28) < 0.5).to(torch.uint8) * 255", "binary"),
        ("empty batch", "x = torch.zeros(0, 1, 28, 28)", "empty")]
for label, make, keyword in LOSS:
    PROBES.append((f"MADE loss() on {label}", f"""
        {make}
        loss, _ = create_model("made", hidden=8).loss(x)
        silent(f"loss {{loss.item():.4g}}")
    """, keyword))
PROBES.append(("MADE loss() on an int64 0/1 batch", """
    torch.manual_seed(0); m = create_model("made", hidden=8).eval(); x = (torch.rand(4, 1, 28, 28) < 0.5)
    ok() if torch.allclose(m.loss(x.long())[0], m.loss(x.float())[0]) else silent("another loss")
""", "-"))
for n in ("0", "-1", "2.5"):
    PROBES.append((f"sample({n})", f"""
        x = create_model("made", hidden=8).sample({n})
        silent(f"returned shape {{tuple(x.shape)}}")
    """, "number of samples"))

FILES = [("csv header and a non-numeric cell", "v.csv", "'value\\n' + '\\n'.join(map(str, range(30))) + '\\noops\\n'",
          "not a number"),
         ("csv with decimal commas (; separated)", "v.csv", "'a;b\\n' + '\\n'.join(f'{i},5;{i}' for i in range(30))",
          "decimal comma"),
         ("csv with one value", "v.csv", "'7\\n'", "at least")]
for label, name, text, keyword in FILES:
    PROBES.append((f"user data: {label}", f"""
        from genzoo.data import toy1d
        (TMP / "{name}").write_text({text})
        values = toy1d.load_column(TMP / "{name}")
        silent(f"{{len(values)}} values, e.g. {{values[:2]}}")
    """, keyword))
for label, array, keyword in [("(N, 1, 5) array", "np.zeros((30, 1, 5))", "shape"),
                              ("complex array", "np.arange(30) + 1j", "complex")]:
    PROBES.append((f"user data: {label}", f"""
        from genzoo.data import toy1d
        np.save(TMP / "v.npy", {array})
        values = toy1d.load_column(TMP / "v.npy")
        silent(f"{{values.shape}} real values")
    """, keyword))

CONSTRUCTORS = [("FSQ([2.5, 3])", "from genzoo.quantizers import FSQ; q = FSQ([2.5, 3]); silent(q.levels)", "levels"),
                ("FSQ('855')", "from genzoo.quantizers import FSQ; q = FSQ('855'); silent(q.levels)", "levels"),
                ("VectorQuantizer(beta=-0.25)", "from genzoo.quantizers import VectorQuantizer; "
                 "VectorQuantizer(4, 16, beta=-0.25); silent('built')", "beta"),
                ("fourier1d offset=NaN", "create_model('fourier1d', offset=float('nan')); silent('built')", "offset"),
                ("vq-only option on an FSQ model", "create_model('vqvae', quantizer='fsq', estimator='ste'); "
                 "silent('built')", "vq only")]
for label, code, keyword in CONSTRUCTORS:
    PROBES.append((label, code, keyword))

PROBES += [
    ("FSQ with 2^32 codes, one forward", """
        from genzoo.quantizers import FSQ
        FSQ([2] * 32)(torch.randn(64, 32)); ok()
    """, "-"),
    ("fourier1d cdf of bfloat16 values", """
        torch.manual_seed(0); m = create_model("fourier1d")
        y = torch.linspace(-3, 3, 401)[:, None]
        err = (m.cdf(y.bfloat16()).float() - m.cdf(y)).abs().max().item()
        ok() if err < 0.01 else silent(f"off by {err:.3f}")
    """, "-"),
    ("GMM cdf(1e30)", """
        c = create_model("gmm1d").cdf(torch.tensor([[1e30]])).item()
        ok() if c <= 1 else silent(f"cdf {c!r}")
    """, "-"),
    ("EMA of MADE's integer order buffers", """
        from torch.optim.swa_utils import AveragedModel
        import genzoo.training as T
        fn = T.ema_multi_avg_fn(0.9) if hasattr(T, "ema_multi_avg_fn") else __import__(
            "torch.optim.swa_utils", fromlist=["x"]).get_ema_multi_avg_fn(0.9)
        m = create_model("made", image_shape=(1, 4, 4), hidden=8, num_masks=2, order="random")
        e = AveragedModel(m, multi_avg_fn=fn, use_buffers=True)
        for _ in range(5):
            e.update_parameters(m)
            [b.copy_(b.flip(-1)) for b in m.buffers() if not b.is_floating_point()]
        e.update_parameters(m)
        same = all(torch.equal(a, b) for a, b in zip(e.module.buffers(), m.buffers()) if not b.is_floating_point())
        ok() if same else silent("orders averaged and truncated")
    """, "-"),
]


def run_probe(code: str, keyword: str, root: Path, timeout: float) -> tuple[str, str]:
    script = PRELUDE + "\n" + textwrap.dedent(code)
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return "unclear", f"no answer in {timeout:.0f} s"
    out = done.stdout.strip().splitlines()
    if done.returncode == 0 and out and out[-1].startswith(("OK", "SILENT")):
        return ("ok", "") if out[-1] == "OK" else ("silent", out[-1][len("SILENT "):])
    error = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
    clear = keyword != "-" and keyword.lower() in error.lower()  # the error names the problem
    return ("clear" if clear else "unclear"), error[:110]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--genzoo", default=str(Path(__file__).resolve().parent.parent),
                        help="the checkout to probe (default: this one)")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    root = Path(args.genzoo).resolve()
    counts = {"ok": 0, "clear": 0, "unclear": 0, "silent": 0}
    print(f"probing {root}\n\n| probe | outcome | detail |\n|---|---|---|")
    for name, code, keyword in PROBES:
        outcome, detail = run_probe(code, keyword, root, args.timeout)
        counts[outcome] += 1
        print(f"| {name} | {outcome} | {detail.replace('|', '/')} |", flush=True)
    print("\n" + ", ".join(f"{k}: {v}" for k, v in counts.items()) + f" (of {len(PROBES)} probes)")


if __name__ == "__main__":
    main()
