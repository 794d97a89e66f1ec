"""BraTS cases (four modality files each) as MONAI Label studies: one 4-channel NIfTI per case."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np

from mamba_monai.data.brats import find_brats_cases

__all__ = ["write_brats_studies"]

#: where MONAI Label's local datastore keeps final (reviewed) labels, relative to the studies folder
FINAL_LABELS = Path("labels") / "final"


def write_brats_studies(
    source: str | os.PathLike, studies: str | os.PathLike, labels: bool = True, overwrite: bool = False
) -> list[Path]:
    """Write each BraTS case under ``source`` as ``studies/<case>.nii.gz``: one float32 NIfTI with the four modalities
    stacked on a last axis, in the order FLAIR, T1, T1ce, T2, with the case's affine. That is the study
    ``segmamba_brats`` serves in MONAI Label (a study is one image file).

    Args:
        source: folder of BraTS case folders (2021 or 2023 naming, see :func:`mamba_monai.data.find_brats_cases`).
        studies: the MONAI Label studies folder (created if needed).
        labels: also copy each case's segmentation to ``studies/labels/final/<case>.nii.gz``, where MONAI Label's
            datastore keeps labels the trainers use.
        overwrite: replace studies that exist; otherwise they are kept as they are.

    Returns:
        the study files, one per case, in case order.

    Raises:
        ValueError: no BraTS case under ``source`` (or an inconsistent case: see ``find_brats_cases``).
    """
    studies = Path(studies)
    studies.mkdir(parents=True, exist_ok=True)
    written = []
    for case in find_brats_cases(source):
        target = studies / f"{case['case']}.nii.gz"
        if overwrite or not target.exists():
            first = nib.load(case["image"][0])
            volume = np.stack([nib.load(path).get_fdata(dtype=np.float32) for path in case["image"]], axis=-1)
            nib.save(nib.Nifti1Image(volume, first.affine), str(target))
        if labels and case.get("label"):
            label_target = studies / FINAL_LABELS / target.name
            if overwrite or not label_target.exists():
                label_target.parent.mkdir(parents=True, exist_ok=True)
                nib.save(nib.load(case["label"]), str(label_target))  # .nii or .nii.gz in, .nii.gz out
        written.append(target)
    return written
