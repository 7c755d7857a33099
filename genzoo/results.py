"""Results tables that model families declare, and the report of one checkpoint they are filled from.

A family gives its models a ``results_table`` (a ``ResultsTable``: its columns and its place among the
tables) and a ``results_row(report)`` that turns a ``Report`` (the checkpoint's name, model, metadata,
dataset and freshly measured test metrics) into that table's cells; ``results_rows`` gives a model rows in
several tables, and ``headline(report)`` its (headline metric, paper or peer) cells in the front page's one
table. ``genzoo.evaluate`` only groups the rows by table and prints them; it knows no family.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ResultsTable:
    """``columns``: (header, alignment) pairs, alignment "l" or "r"; ``order``: tables print by it, then key."""

    key: str
    columns: tuple[tuple[str, str], ...]
    order: int = 100

    def markdown(self, rows: list[list[str]]) -> str:
        if any(len(row) != len(self.columns) for row in rows):
            raise ValueError(f"results table {self.key!r} has {len(self.columns)} columns; a row has another count")
        lines = ["| " + " | ".join(header for header, _ in self.columns) + " |",
                 "|" + "|".join("---:" if align == "r" else "---" for _, align in self.columns) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


@dataclass
class Report:
    """What the results command knows of one checkpoint: metrics measured now on its test split (``test``),
    and what its metadata recorded (``valid`` metrics among them)."""

    name: str
    model: Any
    dataset: Any  # a genzoo.data DatasetConfig
    test: dict[str, float]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> dict[str, float]:
        metrics = self.metadata.get("metrics", {})
        return {k[len("valid_"):]: v for k, v in metrics.items() if k.startswith("valid_")}


def fmt(value, digits: int = 2) -> str:
    """A number with ``digits`` decimals, or "-" where there is none."""
    return f"{value:.{digits}f}" if isinstance(value, (float, int)) and not isinstance(value, bool) else "-"


MODELS_TABLE = ResultsTable(
    "models", (("checkpoint", "l"), ("architecture", "l"), ("parameters", "r"), ("data", "l"),
               ("headline (test split)", "l"), ("paper or peer", "l")), order=0)


def summary_markdown(reports: list[Report]) -> str:
    """The front page's table: one row per checkpoint, its headline metric beside its paper or peer
    (``model.headline(report)``, declared by its family)."""
    rows = [[f"`{r.name}`", r.model.architecture, f"{r.model.num_parameters():,}", r.dataset.describe(),
             *r.model.headline(r)] for r in reports]
    return MODELS_TABLE.markdown(rows)


def markdown(reports: list[Report]) -> str:
    """One markdown table per declared results table, in the tables' order, rows in the reports' order."""
    tables: dict[ResultsTable, list[list[str]]] = {}
    for report in reports:
        for table, row in report.model.results_rows(report):
            tables.setdefault(table, []).append(row)
    ordered = sorted(tables, key=lambda t: (t.order, t.key))
    return "\n\n".join(table.markdown(tables[table]) for table in ordered)
