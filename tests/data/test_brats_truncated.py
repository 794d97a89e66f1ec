"""A truncated .nii.gz (whose header still reads) is refused up front, naming the case and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mamba_monai.data import find_brats_cases
from mamba_monai.data.synthetic import write_synthetic_brats


def _truncate(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_truncated_volume_is_named_before_training(tmp_path):
    write_synthetic_brats(tmp_path, n_cases=2, shape=(24, 24, 16), seed=0)
    assert len(find_brats_cases(tmp_path)) == 2
    victim = sorted(tmp_path.rglob("*t1ce*.nii.gz"))[0]
    _truncate(victim)
    with pytest.raises(ValueError, match=r"BraTS case '.*': '.*t1ce.*\.nii\.gz' is truncated"):
        find_brats_cases(tmp_path)


def test_uncompressed_truncated_volume_is_named(tmp_path):
    import nibabel as nib

    write_synthetic_brats(tmp_path, n_cases=1, shape=(24, 24, 16), seed=0)
    victim = sorted(tmp_path.rglob("*flair*.nii.gz"))[0]
    plain = victim.with_name(victim.name[: -len(".gz")])
    nib.save(nib.load(victim), plain)
    victim.unlink()
    _truncate(plain, keep=0.9)
    with pytest.raises(ValueError, match="is truncated: the header announces"):
        find_brats_cases(tmp_path)
