"""Datalists that bundle configs ask for: a ready training datalist (synthetic demo data if none) and inference inputs."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import re

from mamba_monai.data.brats import find_brats_cases, make_brats_datalist
from mamba_monai.data.synthetic.brats import write_synthetic_brats
from mamba_monai.data.synthetic.staging import check_not_interrupted, write_staged
from mamba_monai.utils.options import as_bool

__all__ = ["brats_inference_inputs", "brats_output_name", "ensure_brats_datalist"]

logger = logging.getLogger(__name__)


def ensure_brats_datalist(
    dataset_dir: str | os.PathLike,
    datalist_path: str | os.PathLike,
    synthetic_if_empty: bool = False,
    n_cases: int = 12,
    shape: tuple[int, int, int] = (96, 96, 64),
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    naming: str = "2021",
) -> str:
    """Return ``datalist_path``, writing it first if it does not exist.

    An existing datalist is used as it is. Otherwise the BraTS case folders under ``dataset_dir`` are split into
    training / validation / testing (seeded) and written as a Decathlon-style JSON. When ``dataset_dir`` holds no case
    at all and ``synthetic_if_empty`` is set, synthetic BraTS-like cases are generated there first (the demo: see
    :func:`mamba_monai.data.synthetic.write_synthetic_brats`), and a warning says so.

    Args:
        dataset_dir: folder of BraTS case folders (2021 or 2023 naming).
        datalist_path: the datalist JSON to use or write.
        synthetic_if_empty: generate synthetic demo cases when ``dataset_dir`` is missing or empty.
        n_cases: number of synthetic cases.
        shape: shape of the synthetic volumes.
        val_fraction: fraction of the labelled cases for validation.
        test_fraction: fraction of the labelled cases for testing.
        seed: seed of the synthetic data and of the split.
        naming: file naming of the synthetic cases ("2021" or "2023").
    """
    synthetic_if_empty = as_bool(synthetic_if_empty, "synthetic_if_empty")
    datalist_path = Path(datalist_path)
    if datalist_path.is_file():
        return str(datalist_path)
    dataset_dir = Path(dataset_dir)
    check_not_interrupted(dataset_dir)
    empty = not dataset_dir.is_dir() or not any(p for p in dataset_dir.rglob("*.nii*"))
    if empty:
        if not synthetic_if_empty:
            raise ValueError(f"no datalist at '{datalist_path}' and no BraTS cases under '{dataset_dir}'")
        logger.warning(
            "No BraTS data under %s: writing %d SYNTHETIC demo cases of shape %s there (not real patients).",
            dataset_dir,
            n_cases,
            tuple(shape),
        )
        write_staged(dataset_dir, write_synthetic_brats, n_cases=n_cases, shape=tuple(shape), seed=seed, naming=naming)
    make_brats_datalist(dataset_dir, datalist_path, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    logger.info("wrote datalist %s", datalist_path)
    return str(datalist_path)


def _is_nifti(path: Path) -> bool:
    return path.name.endswith((".nii", ".nii.gz"))


def brats_inference_inputs(input_path: str | os.PathLike) -> list[dict]:
    """Inference inputs as ``[{"image": ...}, ...]`` from any of the forms users have.

    Accepted: one 4-channel NIfTI file (channels FLAIR, T1, T1ce, T2, as MONAI Label sends); a folder of such files;
    a folder of BraTS case folders (four modality files each, 2021 or 2023 naming; segmentations are ignored); a
    Decathlon-style datalist JSON (its ``"testing"`` entries, else ``"validation"``).

    Args:
        input_path: file, folder or datalist JSON.

    Raises:
        ValueError: the path does not exist or holds none of the accepted forms (the message names it).
    """
    path = Path(input_path)
    if not path.exists():
        raise ValueError(f"inference input '{path}' does not exist")
    if path.is_file() and path.suffix == ".json":
        from monai.data import load_decathlon_datalist

        for key in ("testing", "validation"):
            try:
                items = load_decathlon_datalist(str(path), data_list_key=key, base_dir=str(path.parent))
            except ValueError:
                continue
            if items:
                return [{"image": item["image"]} for item in items]
        raise ValueError(f"datalist '{path}' has no 'testing' or 'validation' entries")
    if path.is_file():
        if not _is_nifti(path):
            raise ValueError(f"inference input '{path}' is not a NIfTI file (.nii or .nii.gz)")
        return [{"image": str(path)}]
    files = sorted(p for p in path.iterdir() if p.is_file() and _is_nifti(p))
    if files:
        return [{"image": str(p)} for p in files]
    try:
        cases = find_brats_cases(path)
    except ValueError as exc:
        raise ValueError(f"'{path}' holds neither 4-channel NIfTI files nor BraTS case folders ({exc})") from exc
    return [{"image": case["image"]} for case in cases]


_MODALITY_SUFFIX = re.compile(r"([_-](flair|t1ce|t1|t2|t2f|t1n|t1c|t2w|image4))$", re.IGNORECASE)


def brats_output_name(metadict: dict, saver=None) -> dict:
    """``output_name_formatter`` for ``SaveImaged``: name predictions after the case, not after its first modality.

    ``BraTS2021_00000/BraTS2021_00000_flair.nii.gz`` -> subject ``BraTS2021_00000`` (so with ``output_postfix="seg"``
    the file is ``BraTS2021_00000_seg.nii.gz``); a 4-channel file ``case_image4.nii.gz`` -> ``case``; other names keep
    their stem.

    Args:
        metadict: the image's meta data (``filename_or_obj`` is used).
        saver: the calling ``SaveImage`` (unused; part of MONAI's formatter signature).
    """
    source = metadict.get("filename_or_obj", "") if metadict else ""
    if isinstance(source, (list, tuple)):
        source = source[0] if source else ""
    name = Path(str(source)).name
    for ext in (".nii.gz", ".nii"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    subject = _MODALITY_SUFFIX.sub("", name) or name
    return {"subject": subject, "idx": metadict.get("patch_index", None) if metadict else None}
