"""Command lines behind ``train/*.py`` and ``sample/*.py``: one implementation for every family."""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from accelerate.utils import set_seed

from genzoo.checkpoint import load_pretrained
from genzoo.config import config_from_dict, load_yaml_config
from genzoo.data import DataConfig
from genzoo.registry import create_model
from genzoo.sampling import save_sample_grid
from genzoo.training import TrainConfig, train

SECTIONS = ("model", "data", "train")


def build_run(config: dict):
    """A run config (sections model/data/train) -> (model, DataConfig, TrainConfig); unknown keys are errors."""
    unknown = [k for k in config if k not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown config section(s) {', '.join(map(repr, unknown))}; sections: {', '.join(SECTIONS)}")
    model_section = dict(config.get("model") or {})
    if "name" not in model_section:
        raise ValueError("config section 'model' needs a 'name' (see genzoo.list_models())")
    train_config = config_from_dict(TrainConfig, config.get("train") or {}, where="section 'train'")
    data_config = config_from_dict(DataConfig, config.get("data") or {}, where="section 'data'")
    set_seed(train_config.seed)  # the initial weights depend on the run's seed alone
    name = model_section.pop("name")
    model = create_model(name, **model_section)
    return model, data_config, train_config


def train_main(argv: list[str] | None = None, description: str = "Train a genzoo model.") -> dict:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", required=True, help="YAML run config, e.g. configs/made_binmnist.yaml")
    parser.add_argument("overrides", nargs="*", help="section.key=value, e.g. train.lr=3e-4 model.hidden=1000")
    parser.add_argument("--resume", default=None, help="'latest' or a checkpoint folder of this run")
    parser.add_argument("--data-root", default=None, help="folder with the datasets (else $GENZOO_DATA)")
    parser.add_argument("--export", default=None, help="also copy the final weights here (e.g. checkpoints/x.safetensors)")
    args = parser.parse_args(argv)
    overrides = list(args.overrides) + ([f"data.root={args.data_root}"] if args.data_root else [])
    config = load_yaml_config(args.config, overrides)
    model, data_config, train_config = build_run(config)
    result = train(model, data_config, train_config, resume=args.resume, run_config=config)
    if args.export:
        Path(args.export).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result["path"], args.export)
    print({k: round(v, 4) if isinstance(v, float) else v for k, v in result["metrics"].items()})
    return result


def sample_main(argv: list[str] | None = None, description: str = "Write a PNG grid of samples.") -> Path:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", required=True, help="a shipped checkpoint name or a .safetensors path")
    parser.add_argument("--n", type=int, default=64, help="number of samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="PNG path (default samples/<model>.png)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    model = load_pretrained(args.model, device=args.device)
    out = args.out or f"samples/{Path(args.model).stem}.png"
    path = save_sample_grid(model, out, n=args.n, seed=args.seed)
    print(f"wrote {path}")
    return path
