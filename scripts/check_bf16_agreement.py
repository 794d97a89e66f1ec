#!/usr/bin/env python
"""Check that a bundle's trained model predicts the same in bf16 autocast as in float32.

Runs the bundle's evaluation (``train.json + evaluate.json + demo.json``) twice on the same trained model, once with
``amp=true`` (bf16 autocast on a CPU with AVX512-BF16 / AMX) and once with ``amp=false`` (float32), each writing into
its own folder, then compares:

* classification bundles: the predicted class of every test image (``test_predictions.csv``; agreement >= 99 %) and
  the accuracy (``report.json``; moves by <= 0.005);
* ``segmamba_brats``: the mean Dice per region (``metrics_summary.json``; moves by <= 0.005), and, from the inference
  workflow run both ways, the written label maps: Dice between the bf16 and float32 maps per BraTS region (WT, TC, ET;
  >= 0.99).

Train the model first (``mamba-monai demo <bundle> --bundle_root <copy>``). The folder must hold ``models/model.pt``.
Exit status 1 if a criterion fails. Example::

    mamba-monai demo senet_ultrasound --bundle_root /tmp/senet && \\
    python scripts/check_bf16_agreement.py senet_ultrasound --bundle_root /tmp/senet
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from mamba_monai.demo import run_bundle_workflow as run_workflow

MAX_METRIC_SHIFT = 0.005
MIN_CLASS_AGREEMENT = 0.99
MIN_REGION_DICE = 0.99


def read_predictions(path: Path) -> dict[str, str]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path}: no predictions")
    file_key = next(k for k in rows[0] if "file" in k.lower() or "image" in k.lower())
    pred_key = next(k for k in rows[0] if "pred" in k.lower())
    return {row[file_key]: row[pred_key] for row in rows}


def metric_of(report: dict) -> tuple[str, float]:
    for key in ("accuracy", "val_accuracy"):
        if isinstance(report.get(key), (int, float)):
            return key, float(report[key])
    raise KeyError(f"no accuracy in report.json (keys: {sorted(report)})")


def region_dice(a, b) -> float:
    inter, total = int((a & b).sum()), int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * inter / total


def brats_regions(label_map, coding: str) -> dict[str, object]:
    et = 4 if str(coding) == "2021" else 3
    return {"WT": label_map > 0, "TC": (label_map == 1) | (label_map == et), "ET": label_map == et}


def check_classification(root: Path, out: Path) -> list[str]:
    failures, times = [], {}
    for amp in (True, False):
        times[amp] = run_workflow(
            root, ["train.json", "evaluate.json", "demo.json"], "eval", amp=amp, output_dir=str(out / f"amp_{amp}")
        )
    bf16 = read_predictions(out / "amp_True" / "test_predictions.csv")
    fp32 = read_predictions(out / "amp_False" / "test_predictions.csv")
    agree = sum(bf16[k] == fp32.get(k) for k in bf16) / len(bf16)
    name, m_bf16 = metric_of(json.loads((out / "amp_True" / "report.json").read_text()))
    _, m_fp32 = metric_of(json.loads((out / "amp_False" / "report.json").read_text()))
    print(f"{len(bf16)} test images: predicted class agreement bf16 vs fp32 {agree:.4f} (>= {MIN_CLASS_AGREEMENT})")
    print(f"{name}: bf16 {m_bf16:.4f}, fp32 {m_fp32:.4f}, shift {abs(m_bf16 - m_fp32):.4f} (<= {MAX_METRIC_SHIFT})")
    print(f"evaluation time: bf16 {times[True]:.1f} s, fp32 {times[False]:.1f} s (loaded machine: indicative only)")
    if agree < MIN_CLASS_AGREEMENT:
        failures.append(f"class agreement {agree:.4f} < {MIN_CLASS_AGREEMENT}")
    if abs(m_bf16 - m_fp32) > MAX_METRIC_SHIFT:
        failures.append(f"{name} moved by {abs(m_bf16 - m_fp32):.4f}")
    return failures


def check_segmentation(root: Path, out: Path) -> list[str]:
    import nibabel as nib
    import numpy as np

    failures, times = [], {}
    for amp in (True, False):
        times[("eval", amp)] = run_workflow(
            root, ["train.json", "evaluate.json", "demo.json"], "eval", amp=amp, output_dir=str(out / f"eval_{amp}")
        )
        times[("infer", amp)] = run_workflow(
            root,
            ["inference.json", "demo.json"],
            "infer",
            amp=amp,
            output_dir=str(out / f"pred_{amp}"),
            input="$@dataset_dir + '/datalist.json'",
        )
    summaries = {}
    for amp in (True, False):
        summary = json.loads((out / f"eval_{amp}" / "metrics_summary.json").read_text())
        summaries[amp] = {**summary.get("means", {}), **summary.get("metrics", {})}
    for key, value in summaries[True].items():
        other = summaries[False].get(key)
        if "dice" in key.lower() and isinstance(value, (int, float)) and isinstance(other, (int, float)):
            shift = abs(value - other)
            print(f"{key}: bf16 {value:.4f}, fp32 {other:.4f}, shift {shift:.4f}")
            if shift > MAX_METRIC_SHIFT:
                failures.append(f"{key} moved by {shift:.4f}")
    coding = "2021"
    seg_bf16 = sorted((out / "pred_True").rglob("*seg*.nii*"))
    if not seg_bf16:
        failures.append(f"no label maps written under {out / 'pred_True'}")
    for path in seg_bf16:
        twin = out / "pred_False" / path.relative_to(out / "pred_True")
        a = np.asarray(nib.load(str(path)).dataobj)
        b = np.asarray(nib.load(str(twin)).dataobj)
        regions_b = brats_regions(b, coding)
        dices = {r: region_dice(ra, regions_b[r]) for r, ra in brats_regions(a, coding).items()}
        print(f"{path.name}: Dice bf16 vs fp32 " + ", ".join(f"{r} {d:.4f}" for r, d in dices.items()))
        failures += [f"{path.name} {r} Dice {d:.4f}" for r, d in dices.items() if d < MIN_REGION_DICE]
    for (what, amp), t in sorted(times.items()):
        print(f"{what} time {'bf16' if amp else 'fp32'}: {t:.1f} s (loaded machine: indicative only)")
    return failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", help="bundle name (segmamba_brats or a classification bundle)")
    parser.add_argument("--bundle_root", required=True, help="bundle folder holding the trained models/model.pt")
    parser.add_argument("--out", help="where the two runs write (default <bundle_root>/bf16_check)")
    args = parser.parse_args(argv)
    root = Path(args.bundle_root)
    if not (root / "models" / "model.pt").is_file():
        parser.error(f"--bundle_root {root}: no models/model.pt (train it first: mamba-monai demo {args.bundle})")
    from mamba_monai.utils import autocast_settings

    settings = autocast_settings("cpu")
    if not settings["enabled"]:
        print("note: this CPU has no native bf16 (or MAMBA_MONAI_AMP=0): both runs are float32", file=sys.stderr)
    out = Path(args.out) if args.out else root / "bf16_check"
    check = check_segmentation if args.bundle == "segmamba_brats" else check_classification
    failures = check(root, out)
    print("PASS" if not failures else "FAIL: " + "; ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
