"""The seams a new family plugs into: a toy family (model + dataset) registered inside this test is trained,
previewed and tabled by the shared loop, sample command and results command without any edit to them; and
the shared modules name no family."""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

import genzoo
from genzoo.config import Config, PositiveInt
from genzoo.data import DatasetConfig, ImageSplit, register_dataset
from genzoo.models.base import GenerativeModel
from genzoo.registry import _MODELS, register_model
from genzoo.results import ResultsTable, fmt

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ToyConfig(Config):
    pixels: PositiveInt = 4


class ToyBernoulli(GenerativeModel):
    """Independent Bernoulli pixels: exact log_prob, a sampler, its own table and a preview of its own."""

    config_class = ToyConfig
    results_table = ResultsTable("toy", (("toy checkpoint", "l"), ("test NLL", "r"), ("p mean", "r")), order=5)

    def __init__(self, config):
        super().__init__(config)
        self.logits = nn.Parameter(torch.zeros(config.pixels))

    def log_prob(self, x):
        return -nn.functional.binary_cross_entropy_with_logits(
            self.logits.expand_as(x.flatten(1)), x.flatten(1), reduction="none").sum(1)

    def loss(self, batch):
        nll = -self.log_prob(batch).mean()
        return nll, {"nll": nll.detach(), "p_mean": torch.sigmoid(self.logits).mean().detach()}

    def sample(self, n, generator=None):
        n = self.check_sample_count(n)
        u = self.rand(n, self.config.pixels, generator=generator)
        return (u < torch.sigmoid(self.logits)).float().view(n, 1, 1, self.config.pixels)

    def results_row(self, report):
        return [report.name, fmt(report.test["nll"], 3), fmt(torch.sigmoid(self.logits).mean().item(), 3)]


class ToyNoSelection(ToyBernoulli):
    selection_metric = None


EXTRA_TABLE = ResultsTable("toy-extra", (("toy checkpoint", "l"), ("pixels", "r")), order=6)


class ToyTwoTables(ToyBernoulli):
    """Rows in two tables, and a checkpoint it depends on."""

    def results_rows(self, report):
        return [*super().results_rows(report), (EXTRA_TABLE, [report.name, str(self.config.pixels)])]

    def dependencies(self):
        return {"teacher": {"name": "toy-teacher", "tensors_sha256": "ab" * 32}}


@dataclass
class ToyPixelsData(DatasetConfig):
    p: float = 0.8
    size: PositiveInt = 400

    def load(self, split, seed=0):
        g = torch.Generator().manual_seed({"train": 0, "valid": 1, "test": 2}[split])
        return ImageSplit((torch.rand(self.size, 1, 1, 4, generator=g) < self.p).to(torch.uint8), scale=1.0)


@pytest.fixture
def toy_family():
    from genzoo.data import registry as data_registry

    register_model("toy_bernoulli")(ToyBernoulli)
    register_model("toy_no_selection")(ToyNoSelection)
    register_model("toy_two_tables")(ToyTwoTables)
    register_dataset("toy_pixels")(ToyPixelsData)
    yield
    for name in ("toy_bernoulli", "toy_no_selection", "toy_two_tables"):
        _MODELS.pop(name)
    data_registry._DATASETS.pop("toy_pixels")


def train_toy(tmp_path, name="toy_bernoulli", **train):
    from genzoo.cli import train_main

    config = tmp_path / "toy.yaml"
    config.write_text(json.dumps({
        "model": {"name": name, "pixels": 4}, "data": {"name": "toy_pixels", "p": 0.8},
        "train": {"output_dir": str(tmp_path / name), "batch_size": 50, "max_steps": 40, "lr": 0.1,
                  "eval_every": 20, "save_every": 20, "log_every": 10, "preview_images": 16, "cpu": True, **train}}))
    return train_main(["--config", str(config)])


def test_a_family_defined_in_a_test_is_trained_previewed_and_tabled(tmp_path, toy_family):
    from genzoo.evaluate import results
    from genzoo.results import markdown
    from genzoo.sample import preview_all

    result = train_toy(tmp_path)
    run = tmp_path / "toy_bernoulli"
    assert (run / "samples" / "step_00000020.png").is_file() and (run / "best.safetensors").is_file()
    meta = genzoo.load_pretrained(result["path"]).pretrained_metadata
    assert meta["dataset"] == {"name": "toy_pixels", "p": 0.8, "size": 400}
    best = genzoo.load_pretrained(run / "best.safetensors").pretrained_metadata
    assert best["dataset"] == meta["dataset"] and "valid_nll" in best["metrics"]
    assert result["metrics"]["test_nll"] < 4 * 0.6  # learnt: 4 pixels at p = 0.8 cost 2.0 nats, p = 1/2 2.77
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "p_mean" in r] == [10, 20, 30, 40]  # loss() metrics are logged

    (png,) = preview_all(tmp_path / "previews", n=16, names=[str(result["path"])])
    assert Image.open(png).size == (4 * 4 + 5 * 2, 4 * 1 + 5 * 2)  # 4 x 4 grid of 1x4 images
    table = markdown([c.report for c in results([str(result["path"])], full=True)])
    assert table.splitlines()[0] == "| toy checkpoint | test NLL | p mean |"
    assert f"| model | {result['metrics']['test_nll']:.3f} |" in table


def test_a_model_without_a_selection_metric_trains_without_best_on_valid(tmp_path, toy_family):
    result = train_toy(tmp_path, name="toy_no_selection")
    assert not (tmp_path / "toy_no_selection" / "best.safetensors").exists()
    assert result["metrics"]["step"] == 40  # the last weights, not the best on valid


def test_a_model_adds_rows_to_several_tables_and_records_what_it_depends_on(tmp_path, toy_family):
    from genzoo.evaluate import results
    from genzoo.results import markdown

    result = train_toy(tmp_path, name="toy_two_tables")
    meta = genzoo.load_pretrained(result["path"]).pretrained_metadata
    assert meta["depends_on"] == {"teacher": {"name": "toy-teacher", "tensors_sha256": "ab" * 32}}
    first, second = markdown([c.report for c in results([str(result["path"])], full=True)]).split("\n\n")
    assert first.splitlines()[0] == "| toy checkpoint | test NLL | p mean |"
    assert second.splitlines()[0] == "| toy checkpoint | pixels |" and second.splitlines()[2] == "| model | 4 |"


SHARED = ["genzoo/cli.py", "genzoo/config.py", "genzoo/evaluate.py", "genzoo/evaluation.py", "genzoo/launch.py",
          "genzoo/checkpoint.py", "genzoo/preview.py", "genzoo/registry.py", "genzoo/results.py", "genzoo/run_log.py",
          "genzoo/run_folder.py", "genzoo/sample.py", "genzoo/training.py", "genzoo/data/registry.py",
          "genzoo/data/splits.py",
          "genzoo/data/loader.py", "genzoo/models/base.py", "sample/all.py"]


def family_vocabulary() -> set[str]:
    """Every registered architecture, its class and config class, and the family packages."""
    words = set()
    for name in genzoo.list_models():
        cls = genzoo.registry.get_model_class(name)
        words |= {name, cls.__name__, cls.config_class.__name__, cls.__module__.split(".")[2]}
        words |= {base.__name__ for base in cls.__mro__[1:] if base.__module__.startswith("genzoo.models.")
                  and base.__module__ != "genzoo.models.base"}
    return {w.lower() for w in words}


def code_words(path: Path) -> set[str]:
    """Identifiers and string constants of a module's code, docstrings and comments left out."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    words = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            words.add(node.id)
        elif isinstance(node, ast.Attribute):
            words.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            words.add(node.name)
        elif isinstance(node, ast.alias):
            words |= set(node.name.split("."))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            words |= set(node.value.replace("-", " ").replace("/", " ").replace(".", " ").split())
    return {w.lower() for w in words}


@pytest.mark.parametrize("module", SHARED)
def test_shared_modules_name_no_family(module):
    vocabulary = family_vocabulary()
    assert {"made", "vqvae", "fourier1d", "autoregressive", "density"} <= vocabulary  # the check can fail
    named = code_words(ROOT / module) & vocabulary
    assert not named, f"{module} names a family: {sorted(named)}"


def test_the_family_check_sees_a_family_name():
    tree = code_words(ROOT / "genzoo" / "models" / "vq" / "vqvae.py")
    assert "vqvae" in tree and tree & family_vocabulary()
