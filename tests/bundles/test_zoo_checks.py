"""The MONAI model zoo's own checks, run on every bundle as shipped (the files git tracks, nothing else, no overrides).

Project-MONAI/model-zoo's CI (``ci/verify_bundle.py``) calls ``monai.bundle.verify_metadata`` (schema named by the
metadata, saved to ``eval/schema.json``), ``monai.bundle.verify_net_in_out`` on ``configs/inference.json`` with only
``bundle_root`` set, checks that ``version`` heads ``changelog``, and its pre-commit runs ``pretty-format-json
--autofix --no-sort-keys --indent=4`` and ``end-of-file-fixer``. These tests make the same calls. The schema cannot be
downloaded here: ``zoo_schema/`` holds MONAI's official ``meta_schema_20240725.json`` byte for byte (its README says
where it comes from), placed where ``verify_metadata`` looks so that nothing is fetched.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser, verify_metadata, verify_net_in_out
from pre_commit_hooks.pretty_format_json import _get_pretty_format

from tests.bundles.bundle_runs import BUNDLES_DIR, bundle_params

SCHEMA_COPY = Path(__file__).parent / "zoo_schema" / "meta_schema_20240725.json"
LOCAL_ONLY = {"models", "eval", "demo_data", "runs", "mlruns", "__pycache__"}  # written by runs, never shipped

with_inference = pytest.mark.parametrize("bundle", bundle_params("configs/metadata.json", "configs/inference.json"))


def shipped_copy(bundle: Path, dest: Path) -> Path:
    """Copy of the bundle as it ships: the files git tracks (outside a git checkout: all but run outputs)."""
    try:
        listed = (
            subprocess.run(["git", "ls-files", "-z", "."], cwd=bundle, capture_output=True, check=True)
            .stdout.decode()
            .split("\0")
        )
        files = [bundle / name for name in listed if name]
    except (OSError, subprocess.CalledProcessError):
        files = [p for p in bundle.rglob("*") if p.is_file() and not LOCAL_ONLY & set(p.relative_to(bundle).parts)]
    target = dest / bundle.name
    for source in files:
        (target / source.relative_to(bundle)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / source.relative_to(bundle))
    return target


def test_shipped_copy_leaves_run_outputs_behind(tmp_path):
    bundle = BUNDLES_DIR / "segmamba_brats"
    copy = shipped_copy(bundle, tmp_path)
    assert (copy / "configs" / "inference.json").is_file() and (copy / "LICENSE").is_file()
    assert not (copy / "models").exists() and not (copy / "eval").exists()


@with_inference
def test_metadata_verifies_with_monai(bundle, tmp_path):
    copy = shipped_copy(bundle, tmp_path)
    meta = json.loads((copy / "configs" / "metadata.json").read_text())
    assert meta["schema"].endswith("/" + SCHEMA_COPY.name), "metadata must name the schema whose keys it uses"
    (copy / "eval").mkdir()
    shutil.copy(SCHEMA_COPY, copy / "eval" / "schema.json")
    verify_metadata(meta_file=str(copy / "configs" / "metadata.json"), filepath=str(copy / "eval" / "schema.json"))


def test_metadata_check_fails_on_a_missing_required_key(tmp_path):
    copy = shipped_copy(BUNDLES_DIR / "senet_ultrasound", tmp_path)
    meta_file = copy / "configs" / "metadata.json"
    meta = json.loads(meta_file.read_text())
    del meta["required_packages_version"]
    meta_file.write_text(json.dumps(meta))
    (copy / "eval").mkdir()
    shutil.copy(SCHEMA_COPY, copy / "eval" / "schema.json")
    with pytest.raises(Exception, match="required_packages_version"):
        verify_metadata(meta_file=str(meta_file), filepath=str(copy / "eval" / "schema.json"))


@with_inference
def test_version_heads_the_changelog(bundle):
    meta = json.loads((bundle / "configs" / "metadata.json").read_text())
    assert meta["version"] in meta["changelog"] and next(iter(meta["changelog"])) == meta["version"]


@with_inference
def test_data_shape_verifies_as_shipped(bundle, tmp_path):
    """ci/verify_bundle.py verify_data_shape: no models/, no data, only bundle_root."""
    copy = shipped_copy(bundle, tmp_path)
    verify_net_in_out(
        net_id="network_def",
        meta_file=str(copy / "configs" / "metadata.json"),
        config_file=str(copy / "configs" / "inference.json"),
        bundle_root=str(copy),
        device="cpu",
    )


@pytest.mark.parametrize("bundle", bundle_params("configs/metadata.json"))
def test_json_is_formatted_as_the_zoo_pre_commit_wants(bundle):
    for path in sorted(bundle.rglob("*.json")):
        if LOCAL_ONLY & set(path.relative_to(bundle).parts):
            continue
        text = path.read_text()
        assert text.endswith("\n") and not text.endswith("\n\n"), f"{path}: end-of-file-fixer would change it"
        expected = _get_pretty_format(text, indent="    ", ensure_ascii=True, sort_keys=False, top_keys=[])
        assert text == expected, f"{path}: pretty-format-json --autofix --no-sort-keys --indent=4 would rewrite it"


def _network_shapes(config_file: Path, bundle: Path, **override) -> dict[str, tuple]:
    parser = ConfigParser()
    parser.read_config(str(config_file))
    parser.read_meta(str(bundle / "configs" / "metadata.json"))
    parser["bundle_root"] = str(bundle)
    for key, value in override.items():
        parser[key] = value
    network = parser.get_parsed_content("network_def")
    return {name: tuple(tensor.shape) for name, tensor in network.state_dict().items() if torch.is_tensor(tensor)}


@with_inference
def test_train_and_inference_define_the_same_network(bundle, tmp_path):
    """A checkpoint of train.json loads into inference.json's network: same parameter names and shapes."""
    copy = shipped_copy(bundle, tmp_path)
    meta = json.loads((copy / "configs" / "metadata.json").read_text())
    first_output = next(iter(meta["network_data_format"]["outputs"].values()))
    override = {}
    train = json.loads((copy / "configs" / "train.json").read_text())
    if "class_names" in train:  # classification: the number of classes comes from the training datalist
        override["class_names"] = [
            str(first_output["channel_def"][str(i)]) for i in range(first_output["num_channels"])
        ]
    if "genotype" in train.get("network_def", {}):  # the genotype changes strips, not parameter shapes
        override["network_def#genotype"] = None
    trained = _network_shapes(copy / "configs" / "train.json", copy, **override)
    served = _network_shapes(copy / "configs" / "inference.json", copy)
    assert trained == served
