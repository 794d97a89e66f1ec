"""Verified downloads from a zoo served over HTTP on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mamba_monai.zoo import ChecksumMismatchError, UnsafeZipError, download_bundle, pack_zoo
from mamba_monai.zoo.index import update_index, ZooEntry

CLI = "import fire; from mamba_monai.zoo.cli import ZooCLI; fire.Fire(ZooCLI)"


@pytest.fixture
def served_zoo(toy_bundles, http_folder):
    """The toy bundles packed into the served folder; yields (folder, index URL)."""
    folder, url = http_folder
    pack_zoo(toy_bundles, folder, progress=False)
    return folder, f"{url}/model_info.json"


def leftovers(bundle_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(bundle_dir)) for p in bundle_dir.rglob("*")) if bundle_dir.exists() else []


def test_download_by_name_lands_the_bundle_and_nothing_else(served_zoo, toy_bundles, tmp_path):
    _, index = served_zoo
    target = download_bundle("toy_bundle", index, tmp_path / "downloaded", progress=False)
    assert target == tmp_path / "downloaded" / "toy_bundle"
    assert sorted(p.name for p in (tmp_path / "downloaded").iterdir()) == ["toy_bundle"]  # no zip, no staging
    for relative in ("configs/metadata.json", "configs/inference.json", "docs/README.md", "LICENSE"):
        assert (target / relative).read_bytes() == (toy_bundles / "toy_bundle" / relative).read_bytes()
    assert not (target / "models").exists() and not (target / "eval").exists()


def test_newest_version_by_default_and_a_chosen_one_on_request(toy_bundles, http_folder, tmp_path):
    folder, url = http_folder
    pack_zoo(toy_bundles, folder, names="toy_bundle", progress=False)
    (toy_bundles / "toy_bundle" / "configs" / "metadata.json").write_text(json.dumps({"version": "0.10.0"}))
    pack_zoo(toy_bundles, folder, names="toy_bundle", progress=False)
    newest = download_bundle("toy_bundle", f"{url}/model_info.json", tmp_path / "a", progress=False)
    assert json.loads((newest / "configs" / "metadata.json").read_text())["version"] == "0.10.0"
    older = download_bundle("toy_bundle", f"{url}/model_info.json", tmp_path / "b", version="0.1.0", progress=False)
    assert json.loads((older / "configs" / "metadata.json").read_text())["version"] == "0.1.0"


def test_a_local_index_path_works_too(served_zoo, tmp_path):
    folder, _ = served_zoo
    target = download_bundle("other_bundle", folder / "model_info.json", tmp_path / "d", progress=False)
    assert (target / "configs" / "metadata.json").is_file()


def test_tampered_zip_is_refused_and_deleted(served_zoo, toy_bundles, tmp_path):
    folder, index = served_zoo
    evil_source = tmp_path / "evil_bundles"
    shutil.copytree(toy_bundles, evil_source)
    (evil_source / "toy_bundle" / "configs" / "inference.json").write_text('{"run": "$__import__(\'os\')"}')
    pack_zoo(evil_source, tmp_path / "evil_zoo", names="toy_bundle", progress=False)
    shutil.copy(tmp_path / "evil_zoo" / "toy_bundle_v0.1.0.zip", folder / "toy_bundle_v0.1.0.zip")  # after the index
    expected = json.loads((folder / "model_info.json").read_text())["toy_bundle_v0.1.0"]["checksum"]
    actual = hashlib.sha1((folder / "toy_bundle_v0.1.0.zip").read_bytes()).hexdigest()
    with pytest.raises(ChecksumMismatchError) as err:
        download_bundle("toy_bundle", index, tmp_path / "downloaded", progress=False)
    assert expected in str(err.value) and actual in str(err.value) and "deleted" in str(err.value)
    assert leftovers(tmp_path / "downloaded") == []


def serve_handmade_zip(folder: Path, name: str, entries: dict[str, bytes]) -> None:
    """A zip written by hand, listed in the index with its true checksum (the index is not what protects here)."""
    path = folder / f"{name}_v0.1.0.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)
    sha1 = hashlib.sha1(path.read_bytes()).hexdigest()
    update_index(folder / "model_info.json", [ZooEntry(name, "0.1.0", sha1, path.name)])


@pytest.mark.parametrize("evil_entry", ["toy/../evil.txt", "../evil.txt", "ABSOLUTE"])
def test_zips_with_escaping_entries_are_refused_before_extraction(http_folder, tmp_path, evil_entry):
    folder, url = http_folder
    outside = tmp_path / "outside" / "evil.txt"
    evil_entry = str(outside) if evil_entry == "ABSOLUTE" else evil_entry
    serve_handmade_zip(folder, "toy", {"toy/configs/metadata.json": b'{"version": "0.1.0"}', evil_entry: b"pwned"})
    bundle_dir = tmp_path / "deep" / "downloaded"
    with pytest.raises(UnsafeZipError) as err:
        download_bundle("toy", f"{url}/model_info.json", bundle_dir, progress=False)
    assert repr(evil_entry) in str(err.value)
    assert leftovers(bundle_dir) == []
    assert not outside.exists() and not list(tmp_path.rglob("evil.txt"))


def test_zip_without_the_bundle_folder_is_refused(http_folder, tmp_path):
    folder, url = http_folder
    serve_handmade_zip(folder, "toy", {"configs/metadata.json": b"{}"})
    with pytest.raises(UnsafeZipError, match="outside the bundle folder 'toy/'"):
        download_bundle("toy", f"{url}/model_info.json", tmp_path / "d", progress=False)


def test_existing_bundle_folder_is_kept_unless_overwrite(served_zoo, tmp_path):
    _, index = served_zoo
    existing = tmp_path / "d" / "toy_bundle"
    existing.mkdir(parents=True)
    (existing / "mine.txt").write_text("keep me")
    with pytest.raises(ValueError, match="already exists"):
        download_bundle("toy_bundle", index, tmp_path / "d", progress=False)
    assert (existing / "mine.txt").read_text() == "keep me"
    download_bundle("toy_bundle", index, tmp_path / "d", overwrite=True, progress=False)
    assert not (existing / "mine.txt").exists() and (existing / "configs" / "metadata.json").is_file()
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["toy_bundle"]


def test_unknown_name_or_version_lists_what_the_served_index_has(served_zoo, tmp_path):
    _, index = served_zoo
    with pytest.raises(ValueError, match=r"'toy'.*available: other_bundle \(0\.2\.0\); toy_bundle \(0\.1\.0\)"):
        download_bundle("toy", index, tmp_path / "d", progress=False)
    with pytest.raises(ValueError, match=r"no version '0\.3\.0'.*available versions: 0\.1\.0"):
        download_bundle("toy_bundle", index, tmp_path / "d", version="0.3.0", progress=False)
    assert leftovers(tmp_path / "d") == []


def test_unreachable_index_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read the zoo index"):
        download_bundle("toy", tmp_path / "missing" / "model_info.json", tmp_path / "d")


def test_cli_download_prints_where_the_bundle_went(served_zoo, tmp_path):
    _, index = served_zoo
    cmd = [
        sys.executable,
        "-c",
        CLI,
        "download",
        "toy_bundle",
        "--index",
        index,
        "--bundle_dir",
        str(tmp_path / "d"),
        "--progress",
        "False",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"downloaded toy_bundle to {(tmp_path / 'd' / 'toy_bundle').resolve()}" in result.stdout


def test_cli_refuses_a_tampered_zip_with_a_one_line_error(served_zoo, tmp_path):
    folder, index = served_zoo
    data = bytearray((folder / "other_bundle_v0.2.0.zip").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte changed after model_info.json was written
    (folder / "other_bundle_v0.2.0.zip").write_bytes(bytes(data))
    cmd = [sys.executable, "-c", CLI, "download", "other_bundle", "--index", index, "--bundle_dir", str(tmp_path / "d")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "error: sha1 of other_bundle_v0.2.0.zip" in result.stderr and "Traceback" not in result.stderr
    assert leftovers(tmp_path / "d") == []


def test_cli_help_documents_the_arguments():
    result = subprocess.run(
        [sys.executable, "-c", CLI, "download", "--help"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0
    for argument in ("INDEX", "BUNDLE_DIR", "--version", "--overwrite", "sha1"):
        assert argument in result.stdout + result.stderr  # fire writes help to stdout or stderr by version
