"""BraTS case discovery (both namings, every bad input) and Decathlon-style datalists."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from monai.data import load_decathlon_datalist

from mamba_monai.data.brats import detect_brats_coding, find_brats_cases, make_brats_datalist
from mamba_monai.data.synthetic import write_synthetic_brats

SHAPE = (32, 32, 32)


@pytest.mark.parametrize(
    "naming, suffixes",
    [("2021", ["_flair", "_t1", "_t1ce", "_t2"]), ("2023", ["-t2f", "-t1n", "-t1c", "-t2w"])],
)
def test_finds_cases_of_both_namings_in_channel_order(tmp_path, naming, suffixes):
    folders = write_synthetic_brats(tmp_path / "data", n_cases=3, shape=SHAPE, naming=naming, four_channel=True)
    (tmp_path / "data" / "README.txt").write_text("not a case")
    (folders[0] / f"._{folders[0].name}{suffixes[0]}.nii.gz").write_bytes(b"macOS resource fork")
    cases = find_brats_cases(tmp_path)
    assert [c["case"] for c in cases] == [f.name for f in folders]
    for case, folder in zip(cases, folders):
        assert case["image"] == [str(folder / f"{folder.name}{s}.nii.gz") for s in suffixes]
        sep = "_" if naming == "2021" else "-"
        assert case["label"] == str(folder / f"{folder.name}{sep}seg.nii.gz")
    assert detect_brats_coding(cases) == naming


def test_case_without_segmentation_has_no_label(tmp_path):
    (folder,) = write_synthetic_brats(tmp_path, n_cases=1, shape=SHAPE)
    (folder / f"{folder.name}_seg.nii.gz").unlink()
    (case,) = find_brats_cases(tmp_path)
    assert "label" not in case and len(case["image"]) == 4


def test_flat_folder_of_several_cases(tmp_path):
    for folder in write_synthetic_brats(tmp_path / "nested", n_cases=2, shape=SHAPE):
        for path in folder.iterdir():
            path.rename(tmp_path / path.name)
    assert [c["case"] for c in find_brats_cases(tmp_path)] == ["BraTS2021_00000", "BraTS2021_00001"]


def _case(tmp_path, naming="2021"):
    (folder,) = write_synthetic_brats(tmp_path, n_cases=1, shape=SHAPE, naming=naming)
    return folder, folder.name


def test_missing_modality_names_case_and_modality(tmp_path):
    folder, case = _case(tmp_path, "2023")
    (folder / f"{case}-t1c.nii.gz").unlink()
    with pytest.raises(ValueError, match=rf"'{case}'.*missing the T1ce modality.*{case}-t1c\.nii\.gz"):
        find_brats_cases(tmp_path)


def test_different_shape_names_case_file_and_shapes(tmp_path):
    folder, case = _case(tmp_path)
    path = folder / f"{case}_t2.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((32, 32, 30), np.float32), nib.load(path).affine), path)
    with pytest.raises(ValueError, match=rf"'{case}'.*{case}_t2\.nii\.gz' has shape \(32, 32, 30\).*\(32, 32, 32\)"):
        find_brats_cases(tmp_path)


def test_different_affine_names_case_and_file(tmp_path):
    folder, case = _case(tmp_path)
    path = folder / f"{case}_seg.nii.gz"
    image = nib.load(path)
    shifted = image.affine.copy()
    shifted[0, 3] += 5.0
    nib.save(nib.Nifti1Image(np.asanyarray(image.dataobj), shifted), path)
    with pytest.raises(ValueError, match=rf"'{case}'.*{case}_seg\.nii\.gz' has affine") as error:
        find_brats_cases(tmp_path)
    assert "-10.5" in str(error.value) and "-15.5" in str(error.value)  # both affines are shown


def test_non_nifti_file_is_named(tmp_path):
    folder, case = _case(tmp_path)
    (folder / f"{case}_t1.nii.gz").rename(folder / f"{case}_t1.nrrd")
    with pytest.raises(ValueError, match=rf"{case}_t1\.nrrd' .*not NIfTI"):
        find_brats_cases(tmp_path)


def test_unreadable_nifti_is_named(tmp_path):
    folder, case = _case(tmp_path)
    (folder / f"{case}_flair.nii.gz").write_text("this is not an image")
    with pytest.raises(ValueError, match=rf"'{case}': cannot read '.*{case}_flair\.nii\.gz' as NIfTI"):
        find_brats_cases(tmp_path)


def test_mixed_namings_and_duplicates_are_rejected(tmp_path):
    folder, case = _case(tmp_path)
    (folder / f"{case}_t1.nii.gz").rename(folder / f"{case}-t1n.nii.gz")
    with pytest.raises(ValueError, match=rf"'{case}'.*mixes the 2021 and 2023"):
        find_brats_cases(tmp_path)
    (folder / f"{case}-t1n.nii.gz").rename(folder / f"{case}_t1.nii.gz")
    write_synthetic_brats(tmp_path / "copy", n_cases=1, shape=SHAPE)
    with pytest.raises(ValueError, match=rf"case id '{case}' appears in two folders"):
        find_brats_cases(tmp_path)


def test_empty_or_missing_root(tmp_path):
    with pytest.raises(ValueError, match="no BraTS cases found"):
        find_brats_cases(tmp_path)
    with pytest.raises(ValueError, match="is not a folder"):
        find_brats_cases(tmp_path / "absent")


def test_datalist_round_trip(tmp_path):
    write_synthetic_brats(tmp_path / "data", n_cases=10, shape=SHAPE, naming="2023")
    (tmp_path / "data" / "BraTS-GLI-00009-000" / "BraTS-GLI-00009-000-seg.nii.gz").unlink()  # unlabelled
    output = tmp_path / "lists" / "datalist.json"
    written = make_brats_datalist(tmp_path / "data", output, val_fraction=0.25, test_fraction=0.15, seed=1)
    assert json.loads(output.read_text()) == written
    assert os.listdir(output.parent) == ["datalist.json"]  # no temporary file left behind
    assert written["brats_coding"] == "2023" and written["labels"]["3"] == "ET"
    assert written["modality"] == {"0": "FLAIR", "1": "T1", "2": "T1ce", "3": "T2"}
    sizes = [len(written[k]) for k in ("training", "validation", "testing")]
    assert sizes == [6, 2, 1 + 1]  # 9 labelled: 5.4/2.25/1.35 -> 6/2/1 (+ the unlabelled case in testing)
    assert written["testing"][-1]["case"] == "BraTS-GLI-00009-000" and "label" not in written["testing"][-1]
    cases = [e["case"] for k in ("training", "validation", "testing") for e in written[k]]
    assert sorted(cases) == [f"BraTS-GLI-{i:05d}-000" for i in range(10)]  # disjoint and complete
    entry = written["training"][0]
    assert entry["image"][0] == f"../data/{entry['case']}/{entry['case']}-t2f.nii.gz"
    loaded = load_decathlon_datalist(str(output), data_list_key="validation", base_dir=str(output.parent))
    for item in loaded:
        assert all(Path(p).is_file() for p in item["image"]) and Path(item["label"]).is_file()
    # seeded: the same seed gives the same split, another seed another one
    again = make_brats_datalist(
        tmp_path / "data", tmp_path / "again.json", val_fraction=0.25, test_fraction=0.15, seed=1, relative=False
    )
    assert [e["case"] for e in again["validation"]] == [e["case"] for e in written["validation"]]
    assert Path(again["training"][0]["label"]).is_absolute()
    validations = [make_brats_datalist(tmp_path / "data", tmp_path / "x.json", seed=s)["validation"] for s in range(6)]
    assert len({tuple(e["case"] for e in validation) for validation in validations}) > 1


def test_coding_hint_comes_from_the_labels(tmp_path):
    write_synthetic_brats(tmp_path / "data", n_cases=2, shape=SHAPE, naming="2021", coding="2023")
    assert make_brats_datalist(tmp_path / "data", tmp_path / "d.json")["brats_coding"] == "2023"


@pytest.mark.parametrize(
    "kwargs", [{"val_fraction": 1.0}, {"test_fraction": -0.1}, {"val_fraction": 0.5, "test_fraction": 0.5}]
)
def test_datalist_rejects_bad_fractions(tmp_path, kwargs):
    with pytest.raises(ValueError, match="fraction"):
        make_brats_datalist(tmp_path, tmp_path / "d.json", **kwargs)
