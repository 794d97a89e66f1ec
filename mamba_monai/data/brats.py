"""BraTS data sets on disk: file naming and label conventions, case discovery, Decathlon-style datalists.

Two conventions are understood:

- BraTS 2018-2022 (``naming="2021"``): ``<case>/<case>_{flair,t1,t1ce,t2,seg}.nii.gz``, labels 0 background,
  1 necrotic tumour core (NCR), 2 peritumoral oedema (ED), 4 enhancing tumour (ET).
- BraTS 2023+ (``naming="2023"``): ``<case>/<case>-{t2f,t1n,t1c,t2w,seg}.nii.gz``, labels 0, 1 NCR, 2 ED, 3 ET.

Images are always listed in the channel order of the Medical Segmentation Decathlon's Task01 (FLAIR, T1, T1ce (T1
with gadolinium), T2), which is also the order of a 4-channel NIfTI as MONAI Label sends it.
"""

from __future__ import annotations

import gzip
import zlib

import os
import re
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np

from mamba_monai.data.splits import split_indices
from mamba_monai.utils.atomic_files import write_json_atomically

__all__ = [
    "BRATS_CHANNELS",
    "BRATS_CHANNEL_NAMES",
    "BRATS_CODINGS",
    "BRATS_NAMINGS",
    "brats_coding",
    "brats_file_name",
    "detect_brats_coding",
    "find_brats_cases",
    "make_brats_datalist",
]

#: image channel order (MSD Task01): FLAIR, T1, T1ce (T1gd), T2
BRATS_CHANNELS: tuple[str, ...] = ("flair", "t1", "t1ce", "t2")
#: human-readable channel names, in channel order
BRATS_CHANNEL_NAMES: tuple[str, ...] = ("FLAIR", "T1", "T1ce", "T2")
#: per naming: the separator between case id and modality, and the file suffix of each modality (and ``seg``)
BRATS_NAMINGS: dict[str, dict] = {
    "2021": {"separator": "_", "suffixes": {"flair": "flair", "t1": "t1", "t1ce": "t1ce", "t2": "t2", "seg": "seg"}},
    "2023": {"separator": "-", "suffixes": {"flair": "t2f", "t1": "t1n", "t1ce": "t1c", "t2": "t2w", "seg": "seg"}},
}
#: label value of each tumour sub-region in each label coding
BRATS_CODINGS: dict[str, dict[str, int]] = {
    "2021": {"NCR": 1, "ED": 2, "ET": 4},
    "2023": {"NCR": 1, "ED": 2, "ET": 3},
}

_NIFTI_EXTENSIONS = (".nii", ".nii.gz")
_SUFFIX_TO_NAMING: dict[str, tuple[str | None, str]] = {"seg": (None, "seg")}
for _naming, _convention in BRATS_NAMINGS.items():
    for _modality, _suffix in _convention["suffixes"].items():
        if _modality != "seg":
            _SUFFIX_TO_NAMING[_suffix] = (_naming, _modality)
# longest suffixes first so that "t1ce" is not read as "t1" followed by junk
_FILE_PATTERN = re.compile(
    r"^(?P<case>.+)[_-](?P<suffix>" + "|".join(sorted(_SUFFIX_TO_NAMING, key=len, reverse=True)) + r")(?P<ext>\..*)?$",
    re.IGNORECASE,
)


def brats_coding(coding: str | int) -> str:
    """Normalise a label-coding name: ``"2021"`` (ET = 4, BraTS 2018-2022) or ``"2023"`` (ET = 3).

    Args:
        coding: ``"2021"``/``2021`` or ``"2023"``/``2023``.
    """
    key = str(coding)
    if key not in BRATS_CODINGS:
        raise ValueError(
            f"unknown BraTS label coding {coding!r}: use '2021' (labels 0, 1 NCR, 2 ED, 4 ET; BraTS 2018-2022) "
            "or '2023' (labels 0, 1 NCR, 2 ED, 3 ET)"
        )
    return key


def brats_file_name(case: str, modality: str, naming: str | int = "2021") -> str:
    """File name of one modality (``flair``, ``t1``, ``t1ce``, ``t2`` or ``seg``) of a case, in a naming.

    Args:
        case: case id, e.g. ``"BraTS2021_00000"``.
        modality: one of ``BRATS_CHANNELS`` or ``"seg"``.
        naming: ``"2021"`` or ``"2023"``.
    """
    convention = BRATS_NAMINGS.get(str(naming))
    if convention is None:
        raise ValueError(f"unknown BraTS naming {naming!r}: use '2021' or '2023'")
    if modality not in convention["suffixes"]:
        raise ValueError(f"unknown BraTS modality {modality!r}: use one of {(*BRATS_CHANNELS, 'seg')}")
    return f"{case}{convention['separator']}{convention['suffixes'][modality]}.nii.gz"


def find_brats_cases(root: str | os.PathLike) -> list[dict]:
    """Find the BraTS cases under ``root`` (case folders at any depth, in the 2021 or the 2023 naming).

    Each case is the set of files ``<case>_<modality>.nii[.gz]`` (2021) or ``<case>-<modality>.nii[.gz]`` (2023)
    of one folder. Every case must have all four modalities; the segmentation is optional (validation/test data).
    Shapes and affines are compared from the NIfTI headers only (no voxel data is read). Hidden files and
    ``__MACOSX`` folders are skipped; other files whose names do not follow the convention are ignored.

    Args:
        root: folder holding the case folders (e.g. ``BraTS2021_Training_Data``).

    Returns:
        one dict per case, sorted by case id: ``{"case": id, "image": [flair, t1, t1ce, t2], "label": seg}``
        (paths as strings; no ``"label"`` key when the case has no segmentation).

    Raises:
        ValueError: no cases found; a case misses a modality, mixes the two namings, has two files for one modality,
            a file that is not NIfTI or cannot be read, or modalities of different shapes or affines; two folders
            hold the same case id.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"BraTS root '{root}' is not a folder")
    found: dict[tuple[str, str], dict[str, list[Path]]] = {}
    namings: dict[tuple[str, str], set[str]] = {}
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d != "__MACOSX")
        for name in sorted(files):
            match = _FILE_PATTERN.match(name)
            if name.startswith(".") or match is None:
                continue
            path = Path(folder) / name
            if (match["ext"] or "").lower() not in _NIFTI_EXTENSIONS:
                raise ValueError(f"'{path}' looks like a BraTS modality file but is not NIfTI (.nii or .nii.gz)")
            naming, modality = _SUFFIX_TO_NAMING[match["suffix"].lower()]
            key = (folder, match["case"])
            found.setdefault(key, {}).setdefault(modality, []).append(path)
            if naming is not None:
                namings.setdefault(key, set()).add(naming)
    if not found:
        raise ValueError(
            f"no BraTS cases found under '{root}': expected case folders with files such as "
            f"{brats_file_name('<case>', 'flair', '2021')} or {brats_file_name('<case>', 'flair', '2023')}"
        )

    cases: dict[str, dict] = {}
    for (folder, case), files in sorted(found.items(), key=lambda item: (item[0][1], item[0][0])):
        case_namings = sorted(namings.get((folder, case), ()))
        if len(case_namings) != 1:
            what = "mixes the 2021 and 2023 file namings" if case_namings else "has a segmentation but no image"
            raise ValueError(f"BraTS case '{case}' in '{folder}' {what}: {sorted(str(p) for p in _all(files))}")
        naming = case_namings[0]
        for modality, paths in files.items():
            if len(paths) > 1:
                raise ValueError(f"BraTS case '{case}' has several {modality} files: {[str(p) for p in paths]}")
        missing = [m for m in BRATS_CHANNELS if m not in files]
        if missing:
            expected = [brats_file_name(case, m, naming) for m in missing]
            names = ", ".join(dict(zip(BRATS_CHANNELS, BRATS_CHANNEL_NAMES))[m] for m in missing)
            what = "modality" if len(missing) == 1 else "modalities"
            raise ValueError(f"BraTS case '{case}' in '{folder}' is missing the {names} {what} (expected {expected})")
        if case in cases:
            raise ValueError(f"BraTS case id '{case}' appears in two folders: '{cases[case]['folder']}' and '{folder}'")
        images = [files[m][0] for m in BRATS_CHANNELS]
        label = files["seg"][0] if "seg" in files else None
        _check_headers(case, images + ([label] if label is not None else []))
        entry = {"case": case, "image": [str(p) for p in images]}
        if label is not None:
            entry["label"] = str(label)
        cases[case] = {"entry": entry, "folder": folder}
    return [cases[case]["entry"] for case in sorted(cases)]


def detect_brats_coding(cases: Sequence[dict], max_labels: int = 3) -> str | None:
    """Guess the label coding (``"2021"`` or ``"2023"``) of discovered cases.

    The label values of up to ``max_labels`` segmentations decide (a 4 means 2021, a 3 means 2023); when no label
    holds either (or there are no labels), the file naming decides. Returns ``None`` when the evidence conflicts.

    Args:
        cases: output of :func:`find_brats_cases`.
        max_labels: how many segmentations to read at most.
    """
    votes: set[str] = set()
    for case in [c for c in cases if "label" in c][:max_labels]:
        values = set(np.unique(np.asanyarray(nib.load(case["label"]).dataobj)).tolist())
        votes |= {coding for coding, labels in BRATS_CODINGS.items() if labels["ET"] in values}
    if not votes:
        for case in cases:
            match = _FILE_PATTERN.match(Path(case["image"][0]).name)
            if match is not None:
                votes.add(_SUFFIX_TO_NAMING[match["suffix"].lower()][0])
    return votes.pop() if len(votes) == 1 else None


def make_brats_datalist(
    root: str | os.PathLike,
    output_json: str | os.PathLike,
    val_fraction: float = 0.2,
    test_fraction: float = 0.0,
    seed: int = 0,
    relative: bool = True,
) -> dict:
    """Write a Decathlon-style datalist JSON of the BraTS cases under ``root``.

    The labelled cases are split (seeded, see :func:`mamba_monai.data.splits.split_indices`) into ``"training"``,
    ``"validation"`` and ``"testing"``; cases without a segmentation always go to ``"testing"``. The file also holds
    ``"modality"`` (channel index -> name), ``"labels"`` and, when it can be detected, ``"brats_coding"``
    (``"2021"`` or ``"2023"``, see :func:`detect_brats_coding`). It is written atomically (temporary file, then
    ``os.replace``), so a reader never sees half a file. Read it with
    ``monai.data.load_decathlon_datalist(output_json, data_list_key="training")``.

    Args:
        root: folder holding the BraTS case folders.
        output_json: where to write the JSON (its folder is created if needed).
        val_fraction: fraction of the labelled cases for validation.
        test_fraction: fraction of the labelled cases for testing.
        seed: seed of the split.
        relative: write paths relative to the JSON's folder (portable); absolute paths otherwise.

    Returns:
        the datalist that was written (with the paths as written).
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"make_brats_datalist: {name} must be in [0, 1), got {value}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"make_brats_datalist: val_fraction + test_fraction must leave cases for training, got "
            f"{val_fraction} + {test_fraction}"
        )
    output_json = Path(output_json).absolute()
    cases = find_brats_cases(root)
    coding = detect_brats_coding(cases)

    def portable(path: str) -> str:
        path = os.path.abspath(path)
        return os.path.relpath(path, output_json.parent) if relative else path

    entries = []
    for case in cases:
        entry = {"case": case["case"], "image": [portable(p) for p in case["image"]]}
        if "label" in case:
            entry["label"] = portable(case["label"])
        entries.append(entry)
    labelled = [e for e in entries if "label" in e]
    train, val, test = split_indices(
        len(labelled), (1.0 - val_fraction - test_fraction, val_fraction, test_fraction), seed=seed
    )
    datalist: dict = {
        "name": "BraTS",
        "modality": {str(i): name for i, name in enumerate(BRATS_CHANNEL_NAMES)},
    }
    if coding is not None:
        datalist["brats_coding"] = coding
        datalist["labels"] = {"0": "background", **{str(v): k for k, v in BRATS_CODINGS[coding].items()}}
    datalist["training"] = [labelled[i] for i in train]
    datalist["validation"] = [labelled[i] for i in val]
    datalist["testing"] = [labelled[i] for i in test] + [e for e in entries if "label" not in e]
    write_json_atomically(output_json, datalist)
    return datalist


def _all(files: dict[str, list[Path]]) -> list[Path]:
    return [p for paths in files.values() for p in paths]


def _check_headers(case: str, paths: list[Path]) -> None:
    """Same 3D shape and affine in every file of a case, from the headers only."""
    reference = None
    for path in paths:
        try:
            image = nib.load(str(path))
        except Exception as error:  # nibabel raises several types for corrupt or foreign files
            raise ValueError(f"BraTS case '{case}': cannot read '{path}' as NIfTI ({error})") from error
        if not isinstance(image, (nib.Nifti1Image, nib.Nifti2Image)):
            raise ValueError(f"BraTS case '{case}': '{path}' is not a NIfTI image ({type(image).__name__})")
        if len(image.shape) != 3:
            raise ValueError(f"BraTS case '{case}': '{path}' has shape {image.shape}, expected a 3D volume")
        _check_complete(case, Path(path), image)
        if reference is None:
            reference = (path, image.shape, image.affine)
            continue
        ref_path, ref_shape, ref_affine = reference
        if image.shape != ref_shape:
            raise ValueError(
                f"BraTS case '{case}': '{path}' has shape {image.shape} but '{ref_path}' has shape {ref_shape}"
            )
        if not np.allclose(image.affine, ref_affine, rtol=1e-5, atol=1e-4):
            raise ValueError(
                f"BraTS case '{case}': '{path}' has affine\n{np.array2string(image.affine, precision=4)}\n"
                f"but '{ref_path}' has affine\n{np.array2string(ref_affine, precision=4)}"
            )


def _check_complete(case: str, path: Path, image) -> None:
    """The file holds all the voxel data its header announces: a truncated or corrupt ``.nii.gz`` (whose header reads
    fine) is refused here, naming the case and the file, instead of failing later inside a data loader."""
    needed = int(image.dataobj.offset) + int(np.prod(image.shape)) * np.dtype(image.get_data_dtype()).itemsize
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as stream:
                size = 0
                while chunk := stream.read(1 << 22):
                    size += len(chunk)
        else:
            size = path.stat().st_size
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(
            f"BraTS case '{case}': '{path}' is truncated or corrupt ({type(error).__name__}: {error}); "
            "copy or download it again"
        ) from None
    if size < needed:
        raise ValueError(
            f"BraTS case '{case}': '{path}' is truncated: the header announces {needed} bytes of image data, "
            f"the file holds {size}; copy or download it again"
        )
