#!/usr/bin/env python
"""Compare ``mamba-monai brats-metrics`` with the official BraTS evaluation run as its README says, on any folders.

The official tool wants BraTS 2023 coding (ET = 3) and names (``BraTS-GLI-00000-000...``): this script writes such
copies of both folders (relabelling 4 -> 3 for ``--coding 2021``), runs ``brats-evaluate --config gli`` and
``brats-parse-metrics seg`` on them, runs our engine on the original folders, and prints, per case, the largest
difference over every figure both report; with ``--evaluate-csv`` it compares a bundle's ``metrics_official.csv`` too.
Exit code 1 when any difference exceeds ``--tolerance``. Needs ``pip install 'mamba-monai[brats]'``.

Example (after ``mamba-monai demo segmamba_brats``)::

    python scripts/check_brats_official.py REF_LABELS_DIR bundles/segmamba_brats/eval/predictions --coding 2021 \\
        --evaluate-csv bundles/segmamba_brats/eval/metrics_official.csv
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

from mamba_monai.metrics.brats_folders import case_name, evaluate_folders
from mamba_monai.metrics.brats_official import to_2023_coding


def official_copy(folder: Path, target: Path, coding: str, numbers: dict[str, str]) -> None:
    """BraTS 2023-coded copies of ``folder``'s label maps, named ``BraTS-GLI-<number>.nii.gz``."""
    target.mkdir(parents=True)
    for path in sorted(folder.glob("*.nii*")):
        name = case_name(path)
        number = numbers.setdefault(name, f"{len(numbers):05d}-000")
        image = nib.load(str(path))
        labels = to_2023_coding(np.asanyarray(image.dataobj), coding, str(path))
        nib.save(nib.Nifti1Image(labels, image.affine), str(target / f"BraTS-GLI-{number}.nii.gz"))


def read_table(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as f:
        rows = {r.get("subject_id") or r.get("case"): r for r in csv.DictReader(f)}
    return {k: v for k, v in rows.items() if k not in ("mean", "std", "median")}


def difference(ours: float, theirs: str) -> float:
    other = float(theirs) if theirs not in ("", None) else math.nan
    if math.isnan(ours) and math.isnan(other) or (math.isinf(ours) and ours == other):
        return 0.0
    return abs(ours - other) if not (math.isnan(ours) or math.isnan(other)) else math.inf


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ref_dir", type=Path)
    parser.add_argument("pred_dir", type=Path)
    parser.add_argument("--coding", choices=("2021", "2023"), default="2023")
    parser.add_argument("--evaluate-csv", type=Path, help="a bundle's eval/metrics_official.csv to compare as well")
    parser.add_argument("--tolerance", type=float, default=1e-3)
    args = parser.parse_args(argv)
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "brats-evaluate").exists():
        parser.error("brats-evaluate not found beside this Python: pip install 'mamba-monai[brats]'")
    ours = evaluate_folders(args.ref_dir, args.pred_dir, coding=args.coding, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        work, numbers = Path(tmp), {}
        official_copy(args.ref_dir, work / "ref", args.coding, numbers)
        official_copy(args.pred_dir, work / "pred", args.coding, numbers)
        for command in (
            [bin_dir / "brats-evaluate", "--ref_path", work / "ref", "--pred_path", work / "pred", "--config", "gli",
             "--summary_json", work / "official.json"],
            [bin_dir / "brats-parse-metrics", "seg", "--json_path", work / "official.json", "--output_csv_path",
             work / "official.csv"],
        ):  # fmt: skip
            subprocess.run([str(c) for c in command], check=True, capture_output=True, text=True)
        by_number = {re.search(r"\d{5}-\d{3}", k).group(0): v for k, v in read_table(work / "official.csv").items()}
        shutil.copy(work / "official.csv", args.pred_dir.parent / "official_brats_evaluation.csv")
    official = {name: by_number[number] for name, number in numbers.items() if number in by_number}
    tables = {"official brats-evaluate": official}
    if args.evaluate_csv:
        tables["evaluate.json"] = read_table(args.evaluate_csv)
    worst = 0.0
    for label, table in tables.items():
        for case, row in ours.rows.items():
            theirs = table.get(case)
            if theirs is None:
                print(f"{label}: no row for case {case}")
                worst = math.inf
                continue
            common = [c for c in row if c in theirs]
            largest = max(difference(row[c], theirs[c]) for c in common)
            worst = max(worst, largest)
            print(f"{label:24} {case:20} {len(common):4d} figures, largest difference {largest:.2e}")
    print(f"official table: {args.pred_dir.parent / 'official_brats_evaluation.csv'}")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
