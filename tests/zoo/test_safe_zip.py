"""Zip entries that could escape the extraction folder are refused before extraction."""

from __future__ import annotations

import stat
import zipfile

import pytest

from mamba_monai.zoo.safe_zip import UnsafeZipError, check_zip_entries


def make_zip(path, *names, symlink=None):
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, b"x")
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


def test_a_bundle_zip_passes(tmp_path):
    path = make_zip(tmp_path / "b.zip", "b/configs/metadata.json", "b/docs/README.md")
    assert check_zip_entries(path, top_level="b") == ["b/configs/metadata.json", "b/docs/README.md"]


@pytest.mark.parametrize(
    "bad, problem",
    [
        ("b/../../evil", "'..'"),
        ("../evil", "'..'"),
        ("b\\..\\..\\evil", "'..'"),
        ("/tmp/evil", "absolute"),
        ("\\evil", "absolute"),
        ("C:/evil", "absolute"),
        ("other/file", "outside the bundle folder 'b/'"),
        ("bx/file", "outside the bundle folder 'b/'"),
    ],
)
def test_unsafe_entries_are_refused_naming_zip_and_entry(tmp_path, bad, problem):
    path = make_zip(tmp_path / "b.zip", "b/configs/metadata.json", bad)
    with pytest.raises(UnsafeZipError) as err:
        check_zip_entries(path, top_level="b")
    assert problem in str(err.value) and repr(bad) in str(err.value) and str(path) in str(err.value)


def test_symlinks_are_refused(tmp_path):
    path = make_zip(tmp_path / "b.zip", "b/configs/metadata.json", symlink="b/link")
    with pytest.raises(UnsafeZipError, match="'b/link' is a symbolic link"):
        check_zip_entries(path, top_level="b")


def test_not_a_zip_is_refused(tmp_path):
    (tmp_path / "b.zip").write_bytes(b"not a zip at all")
    with pytest.raises(UnsafeZipError, match="not a valid zip"):
        check_zip_entries(tmp_path / "b.zip")
