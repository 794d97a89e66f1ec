"""BraTS transforms: labels <-> regions, image checks, four files vs one 4-channel NIfTI."""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.losses import DiceLoss
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, SaveImaged

from mamba_monai.data.brats import find_brats_cases
from mamba_monai.data.synthetic import write_synthetic_brats
from mamba_monai.data.transforms import (
    BratsRegionsToLabelsd,
    CheckBratsImaged,
    ConvertBratsLabels,
    ConvertBratsLabelsd,
)

SHAPE = (32, 32, 32)
AFFINE = torch.diag(torch.tensor([1.5, 1.5, 2.0, 1.0], dtype=torch.float64))


def _label_map(et_label):
    """A (1, 4, 4, 1) map holding every class: background, NCR, ED, ET."""
    values = torch.tensor([0, 1, 2, et_label, 2, 2, 1, 0, 0, et_label, 0, 2, 1, 1, 0, 0], dtype=torch.float32)
    return MetaTensor(values.reshape(1, 4, 4, 1), affine=AFFINE, meta={"filename_or_obj": "/data/case_seg.nii.gz"})


@pytest.mark.parametrize("coding, et_label", [("2021", 4), ("2023", 3), (2023, 3)])
def test_labels_to_regions(coding, et_label):
    label = _label_map(et_label)
    regions = ConvertBratsLabelsd("label", coding=coding)({"label": label})["label"]
    assert isinstance(regions, MetaTensor) and regions.dtype == torch.float32 and regions.shape == (3, 4, 4, 1)
    torch.testing.assert_close(regions.affine, AFFINE)
    v = label[0]
    torch.testing.assert_close(regions[0], ((v == 1) | (v == et_label)).float())  # TC
    torch.testing.assert_close(regions[1], (v > 0).float())  # WT
    torch.testing.assert_close(regions[2], (v == et_label).float())  # ET


def test_numpy_label_without_channel():
    regions = ConvertBratsLabels("2021")(np.array([[[0, 1, 2, 4]]], dtype=np.uint8))
    assert regions.dtype == np.float32 and regions.shape == (3, 1, 1, 4)
    np.testing.assert_array_equal(regions[:, 0, 0], [[0, 1, 0, 1], [0, 1, 1, 1], [0, 0, 0, 1]])


def test_unexpected_label_values_name_file_and_values():
    with pytest.raises(ValueError, match=r"case_seg\.nii\.gz' has values \[3\] outside .*'2021'.*use coding='2023'"):
        ConvertBratsLabelsd("label", coding="2021")({"label": _label_map(3)})
    with pytest.raises(ValueError, match=r"case_seg\.nii\.gz' has values \[4\] outside .*'2023'"):
        ConvertBratsLabelsd("label", coding="2023")({"label": _label_map(4)})
    odd = _label_map(4)
    odd[0, 0, 0, 0] = 7
    with pytest.raises(ValueError, match=r"has values \[7\] outside .*values found: \[0, 1, 2, 4, 7\]\)$"):
        ConvertBratsLabelsd("label", coding="2021")({"label": odd})
    with pytest.raises(ValueError, match="unknown BraTS label coding"):
        ConvertBratsLabelsd("label", coding="2019")


@pytest.mark.parametrize("coding, et_label", [("2021", 4), ("2023", 3)])
def test_regions_to_labels_round_trip(coding, et_label):
    label = _label_map(et_label)
    regions = ConvertBratsLabels(coding)(label)
    back = BratsRegionsToLabelsd("pred", coding=coding)({"pred": regions})["pred"]
    assert isinstance(back, MetaTensor) and back.dtype == torch.uint8 and back.shape == (1, 4, 4, 1)
    torch.testing.assert_close(back.affine, AFFINE)
    assert back.meta["filename_or_obj"] == "/data/case_seg.nii.gz"
    torch.testing.assert_close(back.as_tensor(), label.as_tensor().to(torch.uint8))
    # probabilities are thresholded, numpy stays numpy, and the innermost region wins where regions are not nested
    probabilities = np.zeros((3, 1, 1, 4), dtype=np.float32)
    probabilities[:, 0, 0, 1] = [0.9, 0.9, 0.2]  # TC \ ET -> NCR
    probabilities[:, 0, 0, 2] = [0.1, 0.7, 0.4]  # WT \ TC -> ED
    probabilities[:, 0, 0, 3] = [0.0, 0.0, 0.8]  # ET alone -> ET
    out = BratsRegionsToLabelsd("pred", coding=coding)({"pred": probabilities})["pred"]
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0, 0], [0, 1, 2, et_label])
    with pytest.raises(ValueError, match="expected 3 region channels"):
        BratsRegionsToLabelsd("pred")({"pred": probabilities[:2]})


@pytest.fixture(scope="module")
def brats_case(tmp_path_factory):
    root = tmp_path_factory.mktemp("brats")
    (folder,) = write_synthetic_brats(root, n_cases=1, shape=SHAPE, spacing=(1.2, 1.0, 1.5), four_channel=True)
    (case,) = find_brats_cases(root)
    return folder, case


def test_four_files_and_one_four_channel_nifti_load_the_same(brats_case):
    folder, case = brats_case
    load = Compose([LoadImaged("image"), EnsureChannelFirstd("image"), CheckBratsImaged("image")])
    from_files = load({"image": case["image"]})["image"]
    from_one = load({"image": str(folder / f"{case['case']}_image4.nii.gz")})["image"]
    assert from_files.shape == from_one.shape == (4, *SHAPE)
    torch.testing.assert_close(from_files.as_tensor(), from_one.as_tensor())
    torch.testing.assert_close(from_files.affine, from_one.affine)
    np.testing.assert_allclose(from_files.affine.numpy(), nib.load(case["image"][0]).affine)


def test_training_pipeline_feeds_dice_loss_and_saves_labels_in_input_space(brats_case, tmp_path):
    _, case = brats_case
    pipeline = Compose(
        [
            LoadImaged(["image", "label"]),
            EnsureChannelFirstd(["image", "label"]),
            CheckBratsImaged("image"),
            ConvertBratsLabelsd("label", coding="2021"),
        ]
    )
    item = pipeline(dict(case))
    assert item["label"].shape == (3, *SHAPE) and item["label"].dtype == torch.float32
    loss = DiceLoss(sigmoid=True)(torch.randn(1, 3, *SHAPE), item["label"][None])
    assert torch.isfinite(loss)
    # the regions back to a label map, written with the input's affine
    prediction = BratsRegionsToLabelsd("label", coding="2021")({"label": item["label"]})
    SaveImaged(
        "label",
        output_dir=str(tmp_path),
        output_postfix="pred",
        output_dtype=np.uint8,
        separate_folder=False,
        print_log=False,
    )(prediction)
    (written,) = tmp_path.glob("*_pred.nii.gz")
    original = nib.load(case["label"])
    np.testing.assert_allclose(nib.load(written).affine, original.affine)
    np.testing.assert_array_equal(np.asanyarray(nib.load(written).dataobj), np.asanyarray(original.dataobj))


def test_wrong_channel_count_names_the_file(brats_case):
    _, case = brats_case
    load = Compose([LoadImaged("image"), EnsureChannelFirstd("image")])
    with pytest.raises(ValueError, match=r"flair\.nii\.gz' \(and the other files .*a 3-channel image where 4 are"):
        CheckBratsImaged("image")(load({"image": case["image"][:3]}))
    with pytest.raises(ValueError, match=r"t2\.nii\.gz' is a 1-channel image where 4 are expected"):
        CheckBratsImaged("image")(load({"image": case["image"][3]}))
    # inside Compose, MONAI wraps the error in a RuntimeError whose cause is ours
    with pytest.raises(RuntimeError) as error:
        Compose([load, CheckBratsImaged("image")])({"image": case["image"][3]})
    assert isinstance(error.value.__cause__, ValueError) and "1-channel image" in str(error.value.__cause__)
    with pytest.raises(ValueError, match=r"expected a channel-first 3D image"):
        CheckBratsImaged("image")({"image": torch.zeros(4, 8, 8)})


def test_non_finite_voxels_become_zero_with_one_warning(brats_case, tmp_path):
    _, case = brats_case
    flair = nib.load(case["image"][0])
    data = np.asanyarray(flair.dataobj).copy()
    data[0, 0, :3] = [np.nan, np.inf, -np.inf]
    broken = tmp_path / "broken_flair.nii.gz"
    nib.save(nib.Nifti1Image(data, flair.affine), broken)
    load = Compose([LoadImaged("image"), EnsureChannelFirstd("image"), CheckBratsImaged("image")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = load({"image": [str(broken), *case["image"][1:]]})["image"]
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and "broken_flair.nii.gz" in messages[0] and "3 NaN/inf voxels" in messages[0]
    assert torch.isfinite(image).all() and torch.all(image[0, 0, 0, :3] == 0)
    assert isinstance(image, MetaTensor)
    torch.testing.assert_close(image[0, 1:].as_tensor(), torch.as_tensor(data[1:]))


def test_label_file_in_the_other_coding_is_named(tmp_path):
    write_synthetic_brats(tmp_path, n_cases=1, shape=SHAPE, naming="2021", coding="2023")
    (case,) = find_brats_cases(tmp_path)
    item = EnsureChannelFirstd("label")(LoadImaged("label")({"label": case["label"]}))
    with pytest.raises(ValueError, match=rf"'{case['label']}' has values \[3\] outside .*use coding='2023'"):
        ConvertBratsLabelsd("label", coding="2021")(item)
