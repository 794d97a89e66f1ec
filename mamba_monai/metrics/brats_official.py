"""BraTS metrics as the official evaluation computes them, per case and region.

Since BraTS 2023 the challenges rank with the ``brats-evaluation`` package, built on ``panoptica``: for each region
(label group) of a sub-challenge's configuration it reports voxel-wise ("global") Dice, NSD and HD95 of the binary
region masks, and lesion-wise figures: connected components of each region are matched one to one (maximum bipartite
matching on Dice), then the Dice / NSD / HD95 of the matched lesions are averaged, beside the lesion counts (true
positives, false positives, false negatives, precision, recall, F1). We use that package as the engine rather than a
re-implementation: its definitions (edge cases for empty masks, connectivity, matching) change between challenge
years, and agreement with the tool that ranks submissions is what matters. It is an optional extra
(``pip install 'mamba-monai[brats]'``: it pins ``numpy < 2.3``).

The columns and the two substitutions are those of the official ``metrics_parser.parse_seg_results``: an infinite
voxel-wise HD95 (a region missed or predicted where there is none) becomes 373 (the diagonal of the SRI-24 volume),
the lesion-wise figures keep panoptica's value (``inf`` when no lesion matched), and a case without a prediction scores
0 everywhere and 373 for every HD95 that is not a standard deviation.

Distances (HD95, NSD) are in mm of the voxel size given (the NIfTI header's, as the official tool reads it; 1 mm when
none is given). For voxels whose first and last sizes differ the official tool is not physical: it reads NIfTI through
SimpleITK, whose array is in (z, y, x) order while the spacing it passes is in (x, y, z) order, so each axis gets the
other's size (panoptica 2.1.7; pinned by ``tests/metrics/test_brats_official.py``). We pair each axis with its own
size: identical figures for BraTS's 1 mm isotropic volumes and any spacing that reads the same reversed, physical
distances where the official tool's are not.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "HD95_PENALTY",
    "INSTALL_HINT",
    "SUB_CHALLENGES",
    "missing_case_row",
    "official_case_metrics",
    "official_evaluator",
    "summarise_rows",
    "to_2023_coding",
]

HD95_PENALTY = 373.0
INSTALL_HINT = "pip install 'mamba-monai[brats]' (the brats-evaluation and panoptica packages)"
SUB_CHALLENGES = ("gli", "mets", "ped", "MenRT", "MenPre", "GoAT")

# official column prefix -> panoptica result key (metrics_parser.parse_seg_results)
_COLUMNS = (
    ("all_instance_tp", "tp"),
    ("all_instance_fp", "fp"),
    ("all_instance_fn", "fn"),
    ("all_instance_prec", "prec"),
    ("all_instance_rec", "rec"),
    ("all_instance_f1", "rq"),
    ("global_dsc", "global_bin_dsc"),
    ("global_nsd", "global_bin_nsd"),
    ("global_hd95", "global_bin_hd95"),
    ("lesionwise_dsc_mean", "sq_dsc"),
    ("lesionwise_dsc_std", "sq_dsc_std"),
    ("lesionwise_nsd_mean", "sq_nsd"),
    ("lesionwise_nsd_std", "sq_nsd_std"),
    ("lesionwise_hd95_mean", "sq_hd95"),
    ("lesionwise_hd95_std", "sq_hd95_std"),
)


def official_evaluator(config: str | os.PathLike = "gli") -> Any:
    """The official evaluator of a BraTS sub-challenge (a ``panoptica.Panoptica_Evaluator``).

    Args:
        config: a configuration bundled with ``brats-evaluation`` (``"gli"`` glioma, ``"mets"``, ``"ped"``,
            ``"MenRT"``, ``"MenPre"``, ``"GoAT"``: the label groups, matching and edge cases of each challenge) or the
            path of a panoptica YAML configuration.
    """
    try:
        from importlib.resources import files

        from panoptica import Panoptica_Evaluator
        from panoptica.utils.citation_reminder import disable_citation_reminder
    except ImportError as error:
        raise RuntimeError(f"the official BraTS metrics need {INSTALL_HINT}; import failed: {error}") from error
    disable_citation_reminder()
    path = Path(config)
    if not path.is_file():
        if str(config) not in SUB_CHALLENGES:
            raise ValueError(f"BraTS config '{config}' is neither a file nor one of {', '.join(SUB_CHALLENGES)}")
        path = Path(str(files("brats_evaluation").joinpath("configs", f"config_{config}.yaml")))
    with contextlib.redirect_stdout(io.StringIO()):  # panoptica prints a note on the nested TC / WT label groups
        return Panoptica_Evaluator.load_from_config(str(path))


def to_2023_coding(labels: Any, coding: str | int, name: str = "label map") -> np.ndarray:
    """A label map in the coding the official tool expects (1 NETC, 2 SNFH, 3 ET): BraTS 2021 maps (ET = 4) are
    relabelled 4 -> 3; 2023 maps pass unchanged.

    Args:
        labels: a label map (array or tensor; a leading channel of size 1 is dropped).
        coding: ``"2021"`` or ``"2023"``.
        name: how errors name the map (e.g. its file).
    """
    array = np.asarray(labels.detach().cpu() if hasattr(labels, "detach") else labels)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3:
        raise ValueError(f"{name}: expected a 3D label map, got shape {tuple(array.shape)}")
    values = set(np.unique(array).astype(int).tolist())
    coding = str(coding)
    allowed = {"2021": {0, 1, 2, 4}, "2023": {0, 1, 2, 3, 4}}.get(coding)
    if allowed is None:
        raise ValueError(f"BraTS coding must be '2021' or '2023', got {coding!r}")
    if not values <= allowed:
        raise ValueError(f"{name}: labels {sorted(values - allowed)} are not BraTS {coding} labels {sorted(allowed)}")
    array = array.astype(np.uint8)
    if coding == "2021":
        array = np.where(array == 4, np.uint8(3), array)
    return array


def official_case_metrics(
    prediction: Any,
    reference: Any,
    evaluator: Any,
    coding: str | int = "2023",
    spacing: Sequence[float] | None = None,
) -> dict:
    """The official figures of one case: ``{f"{column}_{region}": value}`` for every region of ``evaluator``'s
    configuration (columns as the official parser names them, see the module docstring).

    Args:
        prediction: the predicted label map.
        reference: the reference label map, same shape.
        evaluator: from :func:`official_evaluator`.
        coding: label coding of both maps (``"2021"`` or ``"2023"``).
        spacing: voxel size (mm) of the three axes: HD95 and NSD are distances in these units. The official tool reads
            it from the NIfTI headers (``get_zooms()``); ``None`` means 1 mm (BraTS volumes are 1 mm isotropic).
    """
    pred = to_2023_coding(prediction, coding, "prediction")
    ref = to_2023_coding(reference, coding, "reference")
    if pred.shape != ref.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from reference shape {ref.shape}")
    voxelspacing = None
    if spacing is not None:
        voxelspacing = tuple(float(v) for v in spacing)
        if len(voxelspacing) != 3 or not all(v > 0 and math.isfinite(v) for v in voxelspacing):
            raise ValueError(f"spacing must be three positive voxel sizes, got {tuple(spacing)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # panoptica's NSD default-threshold note, once per region
        results = evaluator.evaluate(pred, ref, voxelspacing=voxelspacing, verbose=False)
    row: dict[str, float] = {}
    for region, result in results.items():
        values = result.to_dict(False)
        for column, key in _COLUMNS:
            value = float(values.get(key, math.nan))
            if key == "global_bin_hd95" and math.isinf(value):
                value = HD95_PENALTY
            row[f"{column}_{region}"] = value
    return row


def missing_case_row(columns: Sequence[str]) -> dict:
    """The official row of a case without a prediction: 0, and 373 for each HD95 that is not a standard deviation.

    Args:
        columns: the metric columns of the other cases.
    """
    return {c: HD95_PENALTY if ("hd95" in c and "std" not in c) else 0.0 for c in columns}


def summarise_rows(rows: Sequence[Mapping[str, float]]) -> dict:
    """Mean, standard deviation (n - 1) and median of every column over the cases, NaN ignored (as pandas does);
    ``None`` where a column has no number.

    Args:
        rows: one mapping per case, column -> value.
    """
    columns = list(dict.fromkeys(c for row in rows for c in row))
    summary: dict[str, dict[str, float | None]] = {"mean": {}, "std": {}, "median": {}}
    for column in columns:
        values = np.array([row.get(column, math.nan) for row in rows], dtype=float)
        values = values[~np.isnan(values)]
        with np.errstate(invalid="ignore"):
            summary["mean"][column] = float(values.mean()) if values.size else None
            summary["std"][column] = float(values.std(ddof=1)) if values.size > 1 else None
            summary["median"][column] = float(np.median(values)) if values.size else None
    return summary
