"""One home for an item's source file: MetaTensor or ``<key>_meta_dict`` meta data, stacked lists, and extensions
with two parts (``case.nii.gz`` -> ``case``, where ``Path.stem`` gives ``case.nii``)."""

from __future__ import annotations

import torch
from monai.data import MetaTensor

from mamba_monai.data.transforms import source_file, source_stem
from mamba_monai.engines.handlers.lesion_mask_writer import LesionMaskWriter


def test_source_file_from_meta_tensor_meta_dict_and_stacked_lists():
    image = MetaTensor(torch.zeros(1, 2, 2), meta={"filename_or_obj": "/d/a.png"})
    assert source_file(image) == "/d/a.png" and source_file({"image": image}, "image") == "/d/a.png"
    assert source_file({"image": torch.zeros(1), "image_meta_dict": {"filename_or_obj": "/d/b.nii.gz"}}, "image")
    stacked = MetaTensor(torch.zeros(2, 2, 2), meta={"filename_or_obj": ["/d/t1.nii.gz", "/d/t2.nii.gz"]})
    assert source_file(stacked) == "/d/t1.nii.gz"
    assert source_file(torch.zeros(1)) is None and source_file({"label": image}, "image") is None


def test_source_stem_strips_multi_part_extensions():
    assert source_stem("/d/case_01.nii.gz") == "case_01" and source_stem("ISIC_1.JPG") == "ISIC_1"
    assert source_stem("/d/v1.2.tif") == "v1.2" and source_stem("notes.txt") == "notes"
    assert source_stem(None, "image_00003") == "image_00003"


def test_lesion_mask_of_a_nifti_image_is_named_without_nii(tmp_path):
    image = MetaTensor(torch.zeros(1, 8, 8), meta={"filename_or_obj": "/d/lesion_07.nii.gz", "spatial_shape": (8, 8)})
    path = LesionMaskWriter(tmp_path).write(torch.zeros(1, 8, 8), image)
    assert path.name == "lesion_07_mask.png"
