#!/usr/bin/env python
"""Check that a bundle's trained model predicts the same in bf16 autocast as in float32.

Runs the bundle's evaluation (``train.json + evaluate.json + demo.json``) twice on the same trained model, once with
``amp=true`` (bf16 autocast on a CPU with AVX512-BF16 / AMX) and once with ``amp=false`` (float32), each writing into
its own folder, then compares:

* classification bundles: the predicted class of every test image (``test_predictions.csv``; agreement >= 99 %) and
  the accuracy (``report.json``; moves by <= 0.005);
* ``segmamba_brats``: the mean Dice per region (``metrics_summary.json``; moves by <= 0.005), and, from the inference
  workflow run both ways, the written label maps: Dice between the bf16 and float32 maps per BraTS region (WT, TC, ET;
  >= 0.99);
* ``slicemamba_lesion``: the held-out Dice, IoU and ISIC Jaccard (``metrics_summary.json``; each moves by <= 0.005),
  and, from the inference workflow run both ways, the written lesion masks (``*_mask.png``): Dice between the bf16 and
  float32 mask of every image (>= 0.99).

Train the model first (``mamba-monai demo <bundle> --bundle_root <copy>``). The folder must hold ``models/model.pt``.
Exit status 1 if a criterion fails. Example::

    mamba-monai demo senet_ultrasound --bundle_root /tmp/senet && \\
    python scripts/check_bf16_agreement.py senet_ultrasound --bundle_root /tmp/senet
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from mamba_monai.demo import run_bundle_workflow as run_workflow

MAX_METRIC_SHIFT = 0.005
MIN_CLASS_AGREEMENT = 0.99
MIN_REGION_DICE = 0.99


def load_note() -> str:
    return f"one run each, the first warms up: indicative only; 1-min load average {os.getloadavg()[0]:.1f}"


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
    print(f"evaluation time: bf16 {times[True]:.1f} s, fp32 {times[False]:.1f} s ({load_note()})")
    if agree < MIN_CLASS_AGREEMENT:
        failures.append(f"class agreement {agree:.4f} < {MIN_CLASS_AGREEMENT}")
    if abs(m_bf16 - m_fp32) > MAX_METRIC_SHIFT:
        failures.append(f"{name} moved by {abs(m_bf16 - m_fp32):.4f}")
    return failures


def read_label_map(path: Path):
    """A written prediction as an integer array: NIfTI label maps (BraTS) or PNG masks (lesions)."""
    import numpy as np

    if path.name.endswith((".nii", ".nii.gz")):
        import nibabel as nib

        return np.asarray(nib.load(str(path)).dataobj)
    from PIL import Image

    return np.asarray(Image.open(path))


def brats_map_regions(label_map) -> dict[str, object]:
    return brats_regions(label_map, "2021")


def lesion_regions(mask) -> dict[str, object]:
    return {"lesion": mask > 0}


SEGMENTATION = {
    # bundle: (glob of the written predictions, their regions, metrics_summary keys compared)
    "segmamba_brats": ("*seg*.nii*", brats_map_regions, ("dice",)),
    "slicemamba_lesion": ("*_mask.png", lesion_regions, ("dice", "iou", "jaccard")),
}


def compare_metric_summaries(out: Path, keys: tuple[str, ...]) -> list[str]:
    """Compare the evaluation's metrics whose name contains one of ``keys``, bf16 vs float32."""
    failures, summaries = [], {}
    for amp in (True, False):
        summary = json.loads((out / f"eval_{amp}" / "metrics_summary.json").read_text())
        summaries[amp] = {**summary.get("means", {}), **summary.get("metrics", {})}
    compared = 0
    for key, value in summaries[True].items():
        other = summaries[False].get(key)
        if any(k in key.lower() for k in keys) and isinstance(value, (int, float)) and isinstance(other, (int, float)):
            shift = abs(value - other)
            compared += 1
            print(f"{key}: bf16 {value:.4f}, fp32 {other:.4f}, shift {shift:.4f} (<= {MAX_METRIC_SHIFT})")
            if shift > MAX_METRIC_SHIFT:
                failures.append(f"{key} moved by {shift:.4f}")
    if not compared:
        failures.append(f"no metric named like {keys} in {out / 'eval_True' / 'metrics_summary.json'}")
    return failures


def compare_written_maps(out: Path, pattern: str, regions) -> list[str]:
    """Dice between every bf16 prediction and its float32 twin, per region."""
    failures, worst = [], {}
    written = sorted((out / "pred_True").rglob(pattern))
    if not written:
        return [f"no predictions '{pattern}' written under {out / 'pred_True'}"]
    for path in written:
        twin = out / "pred_False" / path.relative_to(out / "pred_True")
        if not twin.is_file():
            failures.append(f"{twin}: the float32 run wrote no prediction for {path.name}")
            continue
        regions_b = regions(read_label_map(twin))
        dices = {r: region_dice(ra, regions_b[r]) for r, ra in regions(read_label_map(path)).items()}
        if len(written) <= 10:
            print(f"{path.name}: Dice bf16 vs fp32 " + ", ".join(f"{r} {d:.4f}" for r, d in dices.items()))
        for r, d in dices.items():
            worst[r] = min(d, worst.get(r, 1.0))
        failures += [f"{path.name} {r} Dice {d:.4f}" for r, d in dices.items() if d < MIN_REGION_DICE]
    print(
        f"{len(written)} predictions: lowest Dice bf16 vs fp32 "
        + ", ".join(f"{r} {d:.4f}" for r, d in worst.items())
        + f" (>= {MIN_REGION_DICE})"
    )
    return failures


def check_segmentation(root: Path, out: Path, bundle: str) -> list[str]:
    pattern, regions, keys = SEGMENTATION[bundle]
    times = {}
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
    failures = compare_metric_summaries(out, keys) + compare_written_maps(out, pattern, regions)
    for (what, amp), t in sorted(times.items()):
        print(f"{what} time {'bf16' if amp else 'fp32'}: {t:.1f} s ({load_note()})")
    return failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "bundle",
        help="bundle name (a segmentation bundle: " + ", ".join(SEGMENTATION) + "; or a classification bundle)",
    )
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
    if args.bundle in SEGMENTATION:
        failures = check_segmentation(root, out, args.bundle)
    else:
        failures = check_classification(root, out)
    print("PASS" if not failures else "FAIL: " + "; ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
