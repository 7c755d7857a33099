"""The training command behind ``train/*.py`` and ``genzoo-train``: one implementation for every family."""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from accelerate.utils import set_seed

from genzoo.config import check_section, config_from_dict, describe_config, load_yaml_config
from genzoo.data import Splits, dataset_from_dict, get_dataset_class, list_datasets
from genzoo.registry import create_model, get_model_class, list_models
from genzoo.run_folder import RunFolderError
from genzoo.training import TrainConfig, train

SECTIONS = ("model", "data", "train")


def build_run(config: dict):
    """A run config (sections model/data/train) -> (model, dataset config, TrainConfig); unknown keys and
    ill-typed values are errors naming them."""
    unknown = [k for k in config if k not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown config section(s) {', '.join(map(repr, unknown))}; sections: {', '.join(SECTIONS)}")
    for section in SECTIONS:
        check_section(config.get(section), section)
    model_section = dict(config.get("model") or {})
    if "name" not in model_section:
        raise ValueError("config section 'model' needs a 'name' (see genzoo.list_models())")
    train_config = config_from_dict(TrainConfig, config.get("train") or {}, where="train")
    dataset = dataset_from_dict(config.get("data"), where="data")
    set_seed(train_config.seed)  # the initial weights depend on the run's seed alone
    name = model_section.pop("name")
    model = create_model(name, **model_section)
    return model, dataset, train_config


def config_keys_help() -> str:
    """Every config key with its default and type: the train section, each dataset, each model."""
    lines = ["config keys (section.key = default   (type)); set them in the YAML file or as overrides:", "",
             "train:"] + describe_config(TrainConfig, "train.")
    for name in list_datasets():
        lines += ["", f"data.name = {name}:"] + describe_config(get_dataset_class(name), "data.")
    for name in list_models():
        lines += ["", f"model.name = {name}:"] + describe_config(get_model_class(name).config_class, "model.")
    return "\n".join(lines)


def train_main(argv: list[str] | None = None, description: str = "Train a genzoo model.") -> dict:
    parser = argparse.ArgumentParser(description=description, epilog=config_keys_help(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="YAML run config, e.g. configs/made_binmnist.yaml")
    parser.add_argument("overrides", nargs="*", help="section.key=value, e.g. train.lr=3e-4 model.hidden=1000")
    parser.add_argument("--resume", default=None,
                        help="'latest', 'auto' (latest where a state was saved, else a fresh start: one command "
                             "for a first start and every requeue) or a checkpoint folder of this run")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a run already in train.output_dir (without it such a folder is refused)")
    parser.add_argument("--data-root", default=None, help="folder with the datasets (else $GENZOO_DATA)")
    parser.add_argument("--export", default=None,
                        help="also copy the final weights here (e.g. genzoo/checkpoints/x.safetensors)")
    args = parser.parse_args(argv)
    config = load_yaml_config(args.config, list(args.overrides))
    model, dataset, train_config = build_run(config)
    dataset = dataset.with_root(args.data_root)
    result = train(model, Splits(dataset, seed=train_config.seed), train_config, resume=args.resume,
                   run_config=config, overwrite=args.overwrite)
    if result["is_main_process"]:
        if args.export:
            Path(args.export).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(result["path"], args.export)
            print(f"exported {args.export}")
    return result


def main(description: str = "Train a genzoo model.") -> None:
    """A training command (``genzoo-train``, ``train/*.py``): a refused run folder (another run in it, nothing to
    resume) ends in one line saying what to do, with exit status 1, instead of a traceback."""
    try:
        train_main(description=description)
    except RunFolderError as exc:
        sys.exit(f"error: {exc}")


def cli() -> None:
    """``genzoo-train``: the exit status is 0 unless training raised."""
    main()


if __name__ == "__main__":
    cli()
