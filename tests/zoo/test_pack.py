"""Packing: deterministic zips, model-zoo layout, model_info.json, large_files.yml."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from mamba_monai.zoo import pack_zoo, read_large_files
from mamba_monai.zoo.pack import select_bundle_files
from tests.zoo.conftest import make_bundle

REPO_BUNDLES = Path(__file__).resolve().parents[2] / "bundles"


def test_same_inputs_give_the_same_bytes_whatever_the_mtimes_and_modes(toy_bundles, tmp_path):
    pack_zoo(toy_bundles, tmp_path / "a", progress=False)
    for i, path in enumerate(sorted(toy_bundles.rglob("*"))):  # touch and chmod everything differently
        if path.is_file():
            os.utime(path, (1_000_000_000 + 7919 * i, 1_500_000_000 + 104729 * i))
            path.chmod(0o755 if i % 2 else 0o600)
    copy = tmp_path / "copy" / "bundles"  # and another folder, created in another order
    shutil.copytree(toy_bundles, copy)
    pack_zoo(copy, tmp_path / "b", progress=False)
    for name in ("toy_bundle_v0.1.0.zip", "other_bundle_v0.2.0.zip", "model_info.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_different_content_gives_different_bytes(toy_bundles, tmp_path):
    first = pack_zoo(toy_bundles, tmp_path / "a", names="toy_bundle", progress=False)[0]
    (toy_bundles / "toy_bundle" / "docs" / "README.md").write_text("# changed\n")
    second = pack_zoo(toy_bundles, tmp_path / "b", names="toy_bundle", progress=False)[0]
    assert first.checksum != second.checksum


def test_zip_layout_top_level_folder_sorted_fixed_stamps_clutter_left_out(toy_bundles, tmp_path):
    pack_zoo(toy_bundles, tmp_path / "zoo", names=["toy_bundle"], progress=False)
    with zipfile.ZipFile(tmp_path / "zoo" / "toy_bundle_v0.1.0.zip") as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == [
            "toy_bundle/LICENSE",
            "toy_bundle/configs/inference.json",
            "toy_bundle/configs/metadata.json",
            "toy_bundle/docs/README.md",
        ]
        assert archive.read("toy_bundle/docs/README.md") == b"# toy\n"
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}


def test_include_models_takes_weights_but_not_training_checkpoints(toy_bundles):
    files = select_bundle_files(toy_bundles / "toy_bundle", include_models=True)
    assert "models/model.pt" in files and "models/checkpoint_epoch=1.pt" not in files
    assert "models/model.pt" not in select_bundle_files(toy_bundles / "toy_bundle")


def test_model_info_has_sha1_and_source_and_merges(toy_bundles, tmp_path):
    zoo = tmp_path / "zoo"
    pack_zoo(toy_bundles, zoo, names="toy_bundle", source_url_prefix="https://example.org/zoo/", progress=False)
    (toy_bundles / "other_bundle" / "configs" / "metadata.json").write_text(json.dumps({"version": "0.10.0"}))
    pack_zoo(toy_bundles, zoo, names="other_bundle", progress=False)  # no prefix: relative source
    info = json.loads((zoo / "model_info.json").read_text())
    assert list(info) == ["other_bundle_v0.10.0", "toy_bundle_v0.1.0"]
    toy = info["toy_bundle_v0.1.0"]
    assert toy["source"] == "https://example.org/zoo/toy_bundle_v0.1.0.zip"
    assert toy["checksum"] == hashlib.sha1((zoo / "toy_bundle_v0.1.0.zip").read_bytes()).hexdigest()
    assert info["other_bundle_v0.10.0"]["source"] == "other_bundle_v0.10.0.zip"
    assert not list(zoo.glob(".*"))  # atomic writes left no temporary file


def test_repacking_a_changed_bundle_without_version_bump_warns(toy_bundles, tmp_path):
    pack_zoo(toy_bundles, tmp_path / "zoo", names="toy_bundle", progress=False)
    (toy_bundles / "toy_bundle" / "LICENSE").write_text("another license\n")
    with pytest.warns(UserWarning, match="without a version bump"):
        pack_zoo(toy_bundles, tmp_path / "zoo", names="toy_bundle", progress=False)


def test_the_repository_bundles_pack_with_configs_and_docs(tmp_path):
    entries = pack_zoo(REPO_BUNDLES, tmp_path / "zoo", progress=False)
    assert {e.name for e in entries} >= {"segmamba_brats", "msmamba_microscopy"}
    for entry in entries:
        with zipfile.ZipFile(tmp_path / "zoo" / entry.zip_name) as archive:
            names = archive.namelist()
        assert f"{entry.name}/configs/metadata.json" in names and f"{entry.name}/configs/inference.json" in names
        source = REPO_BUNDLES / entry.name
        shipped = [p for p in [*source.glob("configs/*"), *source.glob("docs/**/*"), source / "LICENSE"] if p.is_file()]
        assert {f"{entry.name}/{p.relative_to(source).as_posix()}" for p in shipped} <= set(names)
        assert all(n.startswith(f"{entry.name}/") for n in names)
        assert not any(part in ("models", "eval", "demo_data", "runs") for n in names for part in n.split("/"))


def write_large_files_yml(bundle: Path, weights: Path, hash_val: str) -> None:
    (bundle / "large_files.yml").write_text(
        "large_files:\n"
        f'  - path: "models/model.pt"\n    url: "{weights.as_uri()}"\n'
        f'    hash_val: "{hash_val}"\n    hash_type: "md5"\n'
    )


def test_large_files_are_fetched_into_the_zip_and_the_list_left_out(toy_bundles, tmp_path):
    weights = tmp_path / "hosted" / "weights.pt"
    weights.parent.mkdir()
    weights.write_bytes(b"released weights " * 1000)
    bundle = toy_bundles / "toy_bundle"
    write_large_files_yml(bundle, weights, hashlib.md5(weights.read_bytes()).hexdigest())
    pack_zoo(toy_bundles, tmp_path / "zoo", names="toy_bundle", include_models=True, progress=False)
    with zipfile.ZipFile(tmp_path / "zoo" / "toy_bundle_v0.1.0.zip") as archive:
        assert archive.read("toy_bundle/models/model.pt") == weights.read_bytes()  # not the local models/model.pt
        assert "toy_bundle/large_files.yml" not in archive.namelist()


def test_large_file_with_wrong_hash_fails_the_pack(toy_bundles, tmp_path):
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"weights")
    write_large_files_yml(toy_bundles / "toy_bundle", weights, "0" * 32)
    with pytest.raises(RuntimeError, match="models/model.pt"):
        pack_zoo(toy_bundles, tmp_path / "zoo", names="toy_bundle", progress=False)
    assert not (tmp_path / "zoo" / "toy_bundle_v0.1.0.zip").exists()


@pytest.mark.parametrize("bad_path", ["../outside.pt", "/etc/passwd", "large_files.yml"])
def test_large_file_paths_must_stay_inside_the_bundle(toy_bundles, bad_path):
    bundle = toy_bundles / "toy_bundle"
    (bundle / "large_files.yml").write_text(f'large_files:\n  - path: "{bad_path}"\n    url: "https://x/y"\n')
    with pytest.raises(ValueError, match="large_files.yml"):
        read_large_files(bundle)


def test_errors_name_the_bundle_and_what_is_wrong(toy_bundles, tmp_path):
    with pytest.raises(ValueError, match="no bundle 'nope'.*available: other_bundle, toy_bundle"):
        pack_zoo(toy_bundles, tmp_path / "zoo", names="nope", progress=False)
    make_bundle(tmp_path / "more", "versionless")
    (tmp_path / "more" / "versionless" / "configs" / "metadata.json").write_text("{}")
    with pytest.raises(ValueError, match="metadata.json: 'version'"):
        pack_zoo(tmp_path / "more", tmp_path / "zoo", progress=False)
    with pytest.raises(ValueError, match="inside the bundle"):
        pack_zoo(toy_bundles, toy_bundles / "toy_bundle" / "zoo", names="toy_bundle", progress=False)
