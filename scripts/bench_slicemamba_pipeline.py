#!/usr/bin/env python
"""Benchmark (not a test): the slicemamba_lesion bundle's tiny demo pipeline on SYNTHETIC dermoscopy-like images.

Runs supernet training -> evolutionary search -> retraining of the best genotype -> evaluation on the held-out test
split -> inference (configs/demo.json merged on top of each stage, as ``mamba-monai demo slicemamba_lesion``), in a
work folder of its own, and prints the seconds per stage, the searched genotype and the held-out Dice / IoU
(per-image means and pooled). Target on this project's 2-core CPU: held-out Dice >= 0.85 within 20 minutes.

    python scripts/bench_slicemamba_pipeline.py --workdir /tmp/slicemamba_bench
    python scripts/bench_slicemamba_pipeline.py --workdir /tmp/b2 --override epochs=60 --override image_size=[96,96]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="/tmp/slicemamba_bench", help="data, models and outputs go here")
    parser.add_argument("--keep", action="store_true", help="keep an existing workdir (default: start afresh)")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override applied to every stage (VALUE parsed as JSON when it can be)",
    )
    parser.add_argument("--target-dice", type=float, default=0.85)
    parser.add_argument("--budget-minutes", type=float, default=20.0)
    args = parser.parse_args()

    from mamba_monai.demo import run_demo

    work = Path(args.workdir)
    if work.exists() and not args.keep:
        shutil.rmtree(work)
    overrides = {
        "dataset_dir": str(work / "data"),
        "ckpt_dir": str(work / "models"),
        "output_dir": str(work / "eval"),
    }
    for item in args.override:
        key, _, value = item.partition("=")
        overrides[key] = _value(value)
    load = os.getloadavg()
    start = time.perf_counter()
    times = run_demo("slicemamba_lesion", **overrides)
    total = time.perf_counter() - start
    summary = json.loads((work / "eval" / "metrics_summary.json").read_text())
    pipeline = sum(times[k] for k in ("supernet", "search", "retrain"))
    metrics = summary["metrics"]
    print("\n=== slicemamba_lesion tiny pipeline on SYNTHETIC data ===")
    print(
        f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; after: "
        + " ".join(f"{v:.2f}" for v in os.getloadavg())
    )
    for stage, seconds in times.items():
        print(f"{stage:>10}: {seconds:7.1f} s")
    print(
        f"supernet + search + retrain: {pipeline / 60:.1f} min; everything: {total / 60:.1f} min "
        f"(budget {args.budget_minutes:.0f} min)"
    )
    print(f"genotype: {summary.get('genotype')}")
    print(f"held-out test images: {summary['num_cases']}, evaluated at {summary.get('evaluated_size')}")
    print(
        f"Dice: per-image mean {metrics['dice']:.4f}, pooled {metrics['pooled_dice']:.4f}; IoU: per-image mean "
        f"{metrics['iou']:.4f}, pooled {metrics['pooled_iou']:.4f}; HD95 {metrics['hd95']:.2f} px"
    )
    reached = metrics["dice"] >= args.target_dice and pipeline / 60 <= args.budget_minutes
    print(
        f"target (mean Dice >= {args.target_dice} within {args.budget_minutes:.0f} min): "
        f"{'reached' if reached else 'NOT reached'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
