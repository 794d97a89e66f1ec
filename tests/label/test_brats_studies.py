"""BraTS case folders -> MONAI Label studies (one 4-channel NIfTI per case) and final labels (no monailabel needed)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from mamba_monai.data.brats import BRATS_CHANNELS, brats_file_name
from mamba_monai.data.synthetic import write_synthetic_brats
from mamba_monai.label.brats_studies import write_brats_studies
from mamba_monai.label.cli import LabelCLI


@pytest.mark.parametrize("naming", ["2021", "2023"])
def test_cases_become_four_channel_studies_with_labels(tmp_path, naming):
    cases = write_synthetic_brats(tmp_path / "src", n_cases=2, shape=(20, 18, 16), naming=naming, spacing=(1, 1, 2))
    written = write_brats_studies(tmp_path / "src", tmp_path / "studies")
    assert [p.name for p in written] == [f"{c.name}.nii.gz" for c in cases]
    for case, study in zip(cases, written):
        image = nib.load(str(study))
        assert image.shape == (20, 18, 16, 4)
        for channel, modality in enumerate(BRATS_CHANNELS):
            source = nib.load(str(case / brats_file_name(case.name, modality, naming)))
            np.testing.assert_allclose(image.dataobj[..., channel], source.get_fdata(), rtol=1e-6)
            np.testing.assert_allclose(image.affine, source.affine)
        label = nib.load(str(tmp_path / "studies" / "labels" / "final" / study.name))
        seg = nib.load(str(case / brats_file_name(case.name, "seg", naming)))
        np.testing.assert_array_equal(np.asarray(label.dataobj), np.asarray(seg.dataobj))


def test_existing_studies_are_kept_unless_overwrite(tmp_path):
    write_synthetic_brats(tmp_path / "src", n_cases=1, shape=(16, 16, 16))
    (study,) = write_brats_studies(tmp_path / "src", tmp_path / "studies", labels=False)
    assert not (tmp_path / "studies" / "labels").exists()
    study.write_bytes(b"kept")
    write_brats_studies(tmp_path / "src", tmp_path / "studies")
    assert study.read_bytes() == b"kept"
    write_brats_studies(tmp_path / "src", tmp_path / "studies", overwrite=True)
    assert nib.load(str(study)).shape == (16, 16, 16, 4)


def test_cli_reports_a_folder_without_cases(tmp_path):
    with pytest.raises(SystemExit, match="brats-studies: .*"):
        LabelCLI().brats_studies(str(tmp_path), str(tmp_path / "studies"))
