"""One-change-at-a-time tables of the GAN and IGN from ``genzoo.budget`` summaries (issue 30):

    python -m bench.ablation_table bench/summaries/h200_ar_gan_ign.json bench/summaries/cpu_gan_ablation.json \
        --write-docs

Every fixed-step run of a summary whose config is the GAN's (or IGN's) is a row: what it changed from the config,
its steps, where it ran (the summary's file name), seconds of optimizer steps, and the sample metrics of its
export on the valid split (10000 samples, genzoo's classifier FID). A run killed at a deadline shows its last
evaluation's numbers, with that step in its status, or none; runs never started are left out. The summaries are kept in bench/summaries/ (run folders do not
outlive a session).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from genzoo.doc_tables import write_block

FAMILIES = {"gan-ablation": "configs/gan_mnist.yaml", "ign-ablation": "configs/ign_mnist.yaml"}


def rows(summaries: list[Path], config: str) -> list[list[str]]:
    out = []
    for path in summaries:
        plan = json.loads(path.read_text())
        for lane, runs in plan.items():
            for name, record in runs.items():
                if not record.get("steps") or record["config"] != config:
                    continue  # not started, or another family
                m = record.get("metrics", {})
                shares = (f"{m['valid_min_class_share']:.1%}-{m['valid_max_class_share']:.1%}"
                          if "valid_min_class_share" in m else "-")
                twice = f"{m['valid_fid_2']:.0f}" if "valid_fid_2" in m else "-"
                out.append([name, ", ".join(record.get("overrides", [])) or "(the config)", str(record.get("steps", 0)),
                            path.stem, _num(record.get("train_seconds"), 0), _num(m.get("valid_fid"), 0), twice,
                            _num(m.get("valid_recall"), 3), str(m.get("valid_classes", "-")), shares,
                            _status(record)])
    return out


def _status(record: dict) -> str:
    status = record.get("status", "-")
    return f"{status} (valid at step {record['evaluated_step']})" if "evaluated_step" in record else status


def _num(value, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(summaries: list[Path], marker: str) -> str:
    header = ["run", "change", "steps", "where", "step seconds", "valid FID", "FID f(f(z))", "recall", "classes",
              "class shares", "status"]
    lines = [f"One change at a time at equal steps (`python -m bench.ablation_table {' '.join(map(str, summaries))} "
             "--write-docs`); valid split, 10000 samples; step seconds are not comparable across places (the H200 "
             "lease ran nine trainings at once)", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows(summaries, FAMILIES[marker])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("summaries", nargs="+", type=Path, help="summary.json files of genzoo.budget runs")
    parser.add_argument("--write-docs", action="store_true", help="write the tables into docs/ign.md")
    args = parser.parse_args(argv)
    for marker in FAMILIES:
        table = markdown(args.summaries, marker)
        print(table + "\n")
        if args.write_docs:
            print(f"wrote {write_block(marker, table)}")


if __name__ == "__main__":
    main()
