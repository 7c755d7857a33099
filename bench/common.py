"""Helpers shared by the bench scripts: timing and a printed table."""
from __future__ import annotations

import time


def best_time(fn, repeats: int = 3) -> float:
    """Best of ``repeats`` wall-clock runs of ``fn()`` in seconds (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def print_table(headers: list[str], rows: list[list]) -> None:
    cells = [[str(h) for h in headers]] + [[f"{c:.4g}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for j, row in enumerate(cells):
        print(" | ".join(c.rjust(w) for c, w in zip(row, widths)))
        if j == 0:
            print("-+-".join("-" * w for w in widths))


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """The same table as ``print_table``, in Markdown (for --write-readme)."""
    cell = lambda c: f"{c:.4g}" if isinstance(c, float) else str(c).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def publish(caption: str, headers: list[str], rows: list[list], marker: str, write_readme: bool,
            rows_only: bool = False) -> None:
    """Print ``caption`` and the table; with ``write_readme`` also put both between the ``<!-- marker:start -->``
    and ``<!-- marker:end -->`` lines of the page holding them (README.md or a docs/ page), or with
    ``rows_only`` replace only the rows whose first cell these rows share (a bench re-run for some rows keeps
    the others and the caption)."""
    print(caption)
    print_table(headers, rows)
    if write_readme:
        from genzoo.doc_tables import replace_rows, write_block

        if rows_only:
            replace_rows(marker, markdown_table(headers, rows))
        else:
            write_block(marker, f"{caption}\n\n{markdown_table(headers, rows)}")


def short_run(config: str, overrides: list[str], steps: int, folder) -> tuple[dict, float]:
    """Train ``config`` with ``overrides`` for ``steps`` steps on the CPU through the one training loop into
    ``folder`` (no EMA, no best-on-valid selection, one evaluation at the end): (final metrics, seconds)."""
    from accelerate.state import AcceleratorState

    from genzoo.cli import train_main

    AcceleratorState._reset_state(reset_partial_state=True)  # each run sets its own precision in this process
    start = time.perf_counter()
    result = train_main(["--config", config, *overrides, f"train.output_dir={folder}", "train.cpu=true",
                         f"train.max_steps={steps}", f"train.eval_every={steps}", f"train.save_every={steps}",
                         "train.ema_decay=0", "train.preview_images=0", "train.test_at_end=false",
                         "train.select_best=false"])
    return result["metrics"], time.perf_counter() - start
