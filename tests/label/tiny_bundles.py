"""Tiny servable copies of the bundles and a studies folder, for the MONAI Label tests.

A bundle copy gets ``configs/tiny.json`` (small network and ROI, merged on top of ``inference.json`` and
``train.json`` through the app's ``configs`` option) and random weights of that small network in
``models/model.pt``; the microscopy and lesion bundles also get the ``models/model_meta.json`` their training would write.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from monai.bundle import ConfigParser

from mamba_monai.data.synthetic import (
    MICROSCOPY_CLASSES,
    write_synthetic_brats,
    write_synthetic_dermoscopy,
    write_synthetic_microscopy,
)
from mamba_monai.networks.blocks.genotype import Genotype

REPO_BUNDLES = Path(__file__).resolve().parents[2] / "bundles"
TINY_CONFIG = "tiny.json"
TINY = {
    "segmamba_brats": {
        "roi_size": [32, 32, 32],
        "num_workers": 0,
        "batch_size": 1,
        "network_def#feature_size": [8, 16, 32, 64],
        "network_def#hidden_size": 32,
    },
    "slicemamba_lesion": {
        "image_size": [64, 64],
        "num_workers": 0,
        "dims": [16, 32, 64],
        "depths": [1, 1, 1],
        "depths_decoder": [1, 1, 1],
    },
    "msmamba_microscopy": {
        "image_size": 64,
        "num_workers": 0,
        "network_def#depths": [1, 1, 1, 1],
        "network_def#dims": [32, 64, 128, 256],
    },
}
#: spatial shape of the BraTS study: not a multiple of the ROI, not cubic
BRATS_SHAPE = (40, 36, 32)
BRATS_STUDY = "brats_case"
MICROSCOPY_STUDY = "cells"
LESION_STUDY = "lesion"
#: size of the lesion study: not the network's 64 x 64, not square
LESION_SIZE = (72, 88)


def make_tiny_bundle(name: str, bundles_dir: Path) -> Path:
    """Copy ``bundles/<name>`` (configs and docs) to ``bundles_dir`` with ``configs/tiny.json`` and random weights."""
    bundle = bundles_dir / name
    shutil.copytree(REPO_BUNDLES / name, bundle, ignore=shutil.ignore_patterns("models", "eval", "demo_data", "runs"))
    (bundle / "configs" / TINY_CONFIG).write_text(json.dumps(TINY[name], indent=2))
    models = bundle / "models"
    models.mkdir()
    if name == "msmamba_microscopy":
        stats = {"class_names": list(MICROSCOPY_CLASSES), "normalise_mean": [0.5] * 3, "normalise_std": [0.25] * 3}
        (models / "model_meta.json").write_text(json.dumps(stats))
    if name == "slicemamba_lesion":  # the searched architecture the configs build the network from
        genotype = Genotype.parse([3, 0, 0, 3, 0, 2], depths=[1, 1, 1], depths_decoder=[1, 1, 1])
        genotype.to_json(models / "genotype.json")
        (models / "model_meta.json").write_text(json.dumps({"genotype": genotype.to_dict()}))
    parser = ConfigParser()
    parser.read_config([str(bundle / "configs" / "inference.json"), str(bundle / "configs" / TINY_CONFIG)])
    parser["bundle_root"] = str(bundle)
    torch.manual_seed(0)
    network = parser.get_parsed_content("network_def")
    torch.save(network.state_dict(), models / "model.pt")
    return bundle


def make_studies(studies: Path, scratch: Path, labelled: int = 0) -> dict[str, Path]:
    """Write one 4-channel BraTS NIfTI study, one microscopy PNG and one dermoscopy JPEG study into ``studies``, and ``labelled`` more
    BraTS studies (32^3) with their label maps where MONAI Label keeps final labels (then the dermoscopy study gets
    a saved 2D label too); the first paths by id."""
    studies.mkdir(parents=True, exist_ok=True)
    case_folder = write_synthetic_brats(scratch / "brats", n_cases=1, shape=BRATS_SHAPE, four_channel=True)[0]
    brats = studies / f"{BRATS_STUDY}.nii.gz"
    shutil.copyfile(next(case_folder.glob("*_image4.nii.gz")), brats)
    if labelled:
        (studies / "labels" / "final").mkdir(parents=True, exist_ok=True)
        cases = write_synthetic_brats(scratch / "labelled", n_cases=labelled, shape=(32, 32, 32), four_channel=True)
        for case in cases:
            shutil.copyfile(next(case.glob("*_image4.nii.gz")), studies / f"{case.name}.nii.gz")
            shutil.copyfile(next(case.glob("*_seg.nii.gz")), studies / "labels" / "final" / f"{case.name}.nii.gz")
    write_synthetic_microscopy(scratch / "micro", n_per_class=1, size=(48, 48))
    png = studies / f"{MICROSCOPY_STUDY}.png"
    shutil.copyfile(sorted((scratch / "micro").rglob("*.png"))[0], png)
    write_synthetic_dermoscopy(scratch / "lesions", n_images=1, size=LESION_SIZE)
    lesion = studies / f"{LESION_STUDY}.jpg"
    shutil.copyfile(sorted((scratch / "lesions" / "images").glob("*"))[0], lesion)
    if labelled:  # a saved 2D label in the same folder: the 3D trainer must leave this study alone
        mask = sorted((scratch / "lesions").rglob("*"))
        masks = [m for m in mask if m.is_file() and "mask" in str(m).lower() and m.suffix.lower() == ".png"]
        shutil.copyfile(masks[0], studies / "labels" / "final" / f"{LESION_STUDY}.png")
    return {BRATS_STUDY: brats, MICROSCOPY_STUDY: png, LESION_STUDY: lesion}


def brats_label_values(coding: str = "2021") -> set[int]:
    """Values a BraTS label map may hold."""
    return {0, 1, 2, 4} if coding == "2021" else {0, 1, 2, 3}


def nifti_spatial_shape_and_affine(path: Path) -> tuple[tuple[int, ...], np.ndarray]:
    import nibabel as nib

    image = nib.load(str(path))
    return tuple(image.shape[:3]), image.affine
