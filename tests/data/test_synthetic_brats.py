"""Synthetic BraTS-like data: format, determinism, nested regions, learnable contrast."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from mamba_monai.data.brats import BRATS_CHANNELS, brats_file_name
from mamba_monai.data.synthetic import write_synthetic_brats
from mamba_monai.data.transforms import ConvertBratsLabels

SHAPE = (32, 32, 32)


def _load(folder, modality, naming):
    return np.asanyarray(nib.load(folder / brats_file_name(folder.name, modality, naming)).dataobj)


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    first = write_synthetic_brats(tmp_path / "a", n_cases=2, shape=SHAPE, seed=3)
    again = write_synthetic_brats(tmp_path / "b", n_cases=2, shape=SHAPE, seed=3)
    other = write_synthetic_brats(tmp_path / "c", n_cases=2, shape=SHAPE, seed=4)
    for folder_a, folder_b, folder_c in zip(first, again, other):
        names = sorted(p.name for p in folder_a.iterdir())
        assert names == sorted(p.name for p in folder_b.iterdir())
        for name in names:
            assert (folder_a / name).read_bytes() == (folder_b / name).read_bytes(), name
        assert not np.array_equal(_load(folder_a, "flair", "2021"), _load(folder_c, "flair", "2021"))
    # the cases of one data set differ from each other
    assert not np.array_equal(_load(first[0], "seg", "2021"), _load(first[1], "seg", "2021"))


@pytest.mark.parametrize(
    "naming, coding, et_label, files",
    [
        ("2021", None, 4, ["_flair", "_t1", "_t1ce", "_t2", "_seg"]),
        ("2023", None, 3, ["-t2f", "-t1n", "-t1c", "-t2w", "-seg"]),
        ("2021", "2023", 3, ["_flair", "_t1", "_t1ce", "_t2", "_seg"]),
    ],
)
def test_namings_codings_and_format(tmp_path, naming, coding, et_label, files):
    spacing = (1.5, 1.0, 2.0)
    (folder,) = write_synthetic_brats(tmp_path, n_cases=1, shape=SHAPE, spacing=spacing, naming=naming, coding=coding)
    case = folder.name
    assert case == ("BraTS2021_00000" if naming == "2021" else "BraTS-GLI-00000-000")
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{case}{f}.nii.gz" for f in files)
    expected_affine = np.diag([*spacing, 1.0])
    expected_affine[:3, 3] = -(np.asarray(SHAPE) - 1) / 2 * np.asarray(spacing)
    for path in folder.iterdir():
        image = nib.load(path)
        assert image.shape == SHAPE
        np.testing.assert_allclose(image.affine, expected_affine, atol=1e-6)
        assert int(image.header["qform_code"]) == 1 and int(image.header["sform_code"]) == 1
        assert image.get_data_dtype() == (np.uint8 if path.name.endswith("seg.nii.gz") else np.float32)
    label = _load(folder, "seg", naming)
    assert set(np.unique(label).tolist()) == {0, 1, 2, et_label}


def test_regions_nested_non_empty_and_learnable(tmp_path):
    folders = write_synthetic_brats(tmp_path, n_cases=3, shape=SHAPE, seed=1)
    for folder in folders:
        label = _load(folder, "seg", "2021")
        tc, wt, et = ConvertBratsLabels("2021")(label).astype(bool)
        assert et.any() and (tc & ~et).any() and (wt & ~tc).any()
        assert not (et & ~tc).any() and not (tc & ~wt).any()
        images = {m: _load(folder, m, "2021") for m in BRATS_CHANNELS}
        brain = images["t1"] > 0
        assert np.all(images["flair"][~brain] == 0)  # skull-stripped: background exactly 0
        healthy = brain & ~wt
        # oedema is bright on FLAIR, the enhancing rim on T1ce, the necrotic core dark on T1ce and bright on T2
        assert images["flair"][wt].mean() > 1.4 * images["flair"][brain].mean()
        assert images["t1ce"][et].mean() > 1.6 * images["t1ce"][healthy].mean()
        assert images["t1ce"][tc & ~et].mean() < 0.8 * images["t1ce"][et].mean()
        assert images["t2"][tc & ~et].mean() > 1.3 * images["t2"][healthy].mean()


def test_four_channel_image_in_decathlon_channel_order(tmp_path):
    (folder,) = write_synthetic_brats(tmp_path, n_cases=1, shape=SHAPE, naming="2023", four_channel=True)
    four = nib.load(folder / f"{folder.name}_image4.nii.gz")
    assert four.shape == (*SHAPE, 4)
    np.testing.assert_array_equal(four.affine, nib.load(folder / f"{folder.name}-t2f.nii.gz").affine)
    data = np.asanyarray(four.dataobj)
    for channel, modality in enumerate(BRATS_CHANNELS):
        np.testing.assert_array_equal(data[..., channel], _load(folder, modality, "2023"))


def test_with_skull_the_head_is_larger_than_the_brain(tmp_path):
    (stripped,) = write_synthetic_brats(tmp_path / "a", n_cases=1, shape=SHAPE)
    (head,) = write_synthetic_brats(tmp_path / "b", n_cases=1, shape=SHAPE, skull_stripped=False)
    assert (_load(head, "t1", "2021") > 0).sum() > 1.3 * (_load(stripped, "t1", "2021") > 0).sum()
    np.testing.assert_array_equal(_load(head, "seg", "2021"), _load(stripped, "seg", "2021"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"naming": "2020"}, "naming"),
        ({"coding": "2019"}, "coding"),
        ({"shape": (8, 32, 32)}, "shape"),
        ({"spacing": (1, 0, 1)}, "spacing"),
        ({"n_cases": 0}, "n_cases"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        write_synthetic_brats(tmp_path, **{"shape": SHAPE, **kwargs})
