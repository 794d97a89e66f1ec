"""Official BraTS metrics for a folder of predicted label maps against a folder of reference label maps.

Cases are matched by name: the file name without ``.nii.gz`` / ``.nii`` and without a ``-seg`` / ``_seg`` (or
``-pred`` / ``_pred``) suffix, so our names (``BraTS2021_00000_seg.nii.gz``), the BraTS 2023 names
(``BraTS-GLI-00000-000.nii.gz``, ``BraTS-GLI-00000-000-seg.nii.gz``) and the original ``<case>.nii.gz`` all meet;
where names still differ, the BraTS case number (``00000-000``) matches them as the official tool does.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from mamba_monai.metrics.brats_official import (
    missing_case_row,
    official_case_metrics,
    official_evaluator,
    summarise_rows,
)
from mamba_monai.utils.atomic_files import write_text_atomically

__all__ = [
    "BratsFolderResult",
    "case_name",
    "evaluate_folders",
    "format_summary",
    "match_cases",
    "write_official_tables",
]

_SUFFIX = re.compile(r"[-_](seg|pred|prediction|label)$", re.IGNORECASE)
_CASE_NUMBER = re.compile(r"(\d{5}(?:-\d{3})?|\d{4}-\d{1,3})")  # the official tool's subject-id pattern


def case_name(filename: str | os.PathLike) -> str:
    """The case a label-map file belongs to (see the module docstring).

    Args:
        filename: a ``.nii.gz`` or ``.nii`` file name or path.
    """
    name = Path(filename).name
    for extension in (".nii.gz", ".nii"):
        if name.lower().endswith(extension):
            name = name[: -len(extension)]
            break
    return _SUFFIX.sub("", name)


def _label_maps(folder: Path, side: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"{side} folder '{folder}' does not exist")
    maps: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name.lower().endswith((".nii.gz", ".nii")) and not path.name.startswith("."):
            name = case_name(path)
            if name in maps:
                raise ValueError(
                    f"{side} folder '{folder}': '{maps[name].name}' and '{path.name}' are both case {name}"
                )
            maps[name] = path
    return maps


def match_cases(ref_dir: str | os.PathLike, pred_dir: str | os.PathLike) -> tuple[list, list[str], list[str]]:
    """Pair the reference and prediction label maps of two folders.

    Returns ``(pairs, missing_predictions, missing_references)``: ``(case, reference, prediction)`` triples, the
    reference cases no prediction matches, and the prediction cases no reference matches.

    Args:
        ref_dir: folder of reference label maps.
        pred_dir: folder of predicted label maps.
    """
    refs, preds = _label_maps(Path(ref_dir), "reference"), _label_maps(Path(pred_dir), "prediction")
    if not refs:
        raise FileNotFoundError(f"reference folder '{ref_dir}' holds no .nii.gz / .nii label map")
    pairs, unmatched = [], []
    for name, ref in refs.items():
        if name in preds:
            pairs.append((name, ref, preds.pop(name)))
        else:
            unmatched.append(name)
    missing = []
    for name in unmatched:  # second chance: the BraTS case number, as the official tool matches
        number = _CASE_NUMBER.search(name)
        found = [
            p for p in preds if number and _CASE_NUMBER.search(p) and _CASE_NUMBER.search(p).group(1) == number.group(1)
        ]
        if len(found) == 1:
            pairs.append((name, refs[name], preds.pop(found[0])))
        else:
            missing.append(name)
    return sorted(pairs), missing, sorted(preds)


@dataclass
class BratsFolderResult:
    """Per-case official figures of a folder evaluation and the cases missing on either side."""

    rows: dict[str, dict[str, float]] = field(default_factory=dict)
    missing_predictions: list[str] = field(default_factory=list)
    missing_references: list[str] = field(default_factory=list)


def _read_labels(path: Path) -> tuple[np.ndarray, tuple[float, ...]]:
    """A label map and its voxel size (the header's zooms, as the official tool reads them)."""
    try:
        image = nib.load(str(path))
        return np.asanyarray(image.dataobj), tuple(float(v) for v in image.header.get_zooms()[:3])
    except Exception as error:  # nibabel raises several types for truncated / non-NIfTI files
        raise ValueError(f"cannot read label map '{path}': {error}") from error


def _case_metrics(ref: Path, pred: Path, evaluator: Any, coding: str | int) -> dict[str, float]:
    (prediction, pred_spacing), (reference, ref_spacing) = _read_labels(pred), _read_labels(ref)
    if pred_spacing != ref_spacing:  # the official tool refuses such a pair too ("Metadata ... do not match")
        raise ValueError(f"voxel sizes differ: prediction {pred_spacing}, reference {ref_spacing} (mm)")
    return official_case_metrics(prediction, reference, evaluator, coding, spacing=ref_spacing)


def evaluate_folders(
    ref_dir: str | os.PathLike,
    pred_dir: str | os.PathLike,
    coding: str | int = "2023",
    config: str | os.PathLike = "gli",
    progress: bool = True,
) -> BratsFolderResult:
    """Official per-case figures of every prediction in ``pred_dir`` against its reference in ``ref_dir``; a case
    without a prediction gets the official penalty row (:func:`missing_case_row`).

    Args:
        ref_dir: folder of reference label maps.
        pred_dir: folder of predicted label maps.
        coding: label coding of both folders (``"2021"``: ET = 4, relabelled to 3; ``"2023"``).
        config: the sub-challenge configuration (see :func:`official_evaluator`).
        progress: show a progress bar.
    """
    pairs, missing, extra = match_cases(ref_dir, pred_dir)
    evaluator = official_evaluator(config)
    result = BratsFolderResult(missing_predictions=missing, missing_references=extra)
    iterator = pairs
    if progress:
        from tqdm import tqdm

        iterator = tqdm(pairs, desc="BraTS metrics", unit="case")
    for name, ref, pred in iterator:
        try:
            result.rows[name] = _case_metrics(ref, pred, evaluator, coding)
        except ValueError as error:
            raise ValueError(f"case {name} ({pred.name} vs {ref.name}): {error}") from error
    columns = list(next(iter(result.rows.values()), {}))
    for name in missing:
        result.rows[name] = missing_case_row(columns)
    result.rows = dict(sorted(result.rows.items()))
    return result


def _jsonable(value: float) -> float | str | None:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def write_official_tables(
    result: BratsFolderResult, out: str | os.PathLike, settings: dict | None = None
) -> tuple[Path, Path]:
    """Write ``<out>.json`` (per case, summary with mean / std / median, missing cases, settings) and ``<out>.csv``
    (a row per case, then ``mean`` / ``std`` / ``median`` rows, as the official parser), atomically.

    Args:
        result: from :func:`evaluate_folders` (or rows collected by an evaluator).
        out: the output file; its suffix (``.json`` / ``.csv`` or none) is replaced.
        settings: recorded in the JSON (coding, configuration, folders).
    """
    base = Path(out)
    if base.suffix.lower() in (".json", ".csv"):
        base = base.with_suffix("")
    summary = summarise_rows(list(result.rows.values()))
    columns = list(dict.fromkeys(c for row in result.rows.values() for c in row))
    document = {
        "settings": settings or {},
        "num_cases": len(result.rows),
        "missing_predictions": result.missing_predictions,
        "missing_references": result.missing_references,
        "summary": {k: {c: _jsonable(v) for c, v in values.items()} for k, values in summary.items()},
        "cases": {case: {c: _jsonable(v) for c, v in row.items()} for case, row in result.rows.items()},
    }
    json_path = write_text_atomically(base.with_suffix(".json"), json.dumps(document, indent=2) + "\n")
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["case", "missing_prediction", *columns])
    for case, row in result.rows.items():
        writer.writerow([case, int(case in result.missing_predictions), *(_cell(row.get(c)) for c in columns)])
    for statistic, values in summary.items():
        writer.writerow([statistic, "", *(_cell(values.get(c)) for c in columns)])
    csv_path = write_text_atomically(base.with_suffix(".csv"), stream.getvalue())
    return json_path, csv_path


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def format_summary(result: BratsFolderResult, regions: Sequence[str] = ("tc", "wt", "et")) -> str:
    """A short table of the mean / median voxel-wise and lesion-wise Dice and HD95 per region, for the terminal.

    Args:
        result: a folder evaluation.
        regions: the regions shown.
    """
    summary = summarise_rows(list(result.rows.values()))
    lines = [f"{'region':8}{'metric':24}{'mean':>10}{'median':>10}"]
    for region in regions:
        for metric in ("global_dsc", "global_hd95", "lesionwise_dsc_mean", "lesionwise_hd95_mean", "global_nsd"):
            column = f"{metric}_{region}"
            mean, median = summary["mean"].get(column), summary["median"].get(column)
            if mean is None and median is None:
                continue
            lines.append(f"{region:8}{metric:24}{_short(mean):>10}{_short(median):>10}")
    return "\n".join(lines)


def _short(value) -> str:
    return "-" if value is None else f"{value:.4f}"
