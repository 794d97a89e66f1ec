"""Every bundle's metadata and file layout against what MONAI's model zoo requires.

The zoo's CI (Project-MONAI/model-zoo ci/verify_bundle.py) checks that ``version`` is in ``changelog``, validates
``configs/metadata.json`` with ``monai.bundle verify_metadata`` against MONAI's meta schema (downloaded from the URL in
``"schema"``, so not possible offline), and its CONTRIBUTING.md asks for a display ``name``, ``LICENSE``,
``docs/README.md``, ``docs/data_license.txt`` and fixed key names in inference.json / train.json. These tests encode
those rules, plus the MONAI bundle specification's fields of ``network_data_format``, so a bundle that would fail the
zoo's checks fails here first. New bundles under bundles/ are picked up by themselves.
"""

from __future__ import annotations

import json
import re
import tomllib
from importlib.metadata import PackageNotFoundError, version as installed_version
from pathlib import Path

import pytest
import torch
from monai.bundle.scripts import _get_fake_spatial_shape
from monai.utils import get_equivalent_dtype
from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

import mamba_monai
from tests.bundles.bundle_runs import BUNDLES_DIR, bundle_params

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
TOP_LEVEL_TEXT = ("name", "task", "description", "authors", "copyright")
ZOO_DESCRIPTIVE = (  # the model-zoo template fills these in every bundle (MONAI's schema has them as optional)
    "data_source",
    "data_type",
    "image_classes",
    "label_classes",
    "pred_classes",
    "eval_metrics",
    "intended_use",
    "references",
)
TENSOR_FIELDS = (
    "type",
    "format",
    "num_channels",
    "spatial_shape",
    "dtype",
    "value_range",
    "is_patch_data",
    "channel_def",
)
TENSOR_TYPES = {"image", "series", "tuples", "probabilities"}  # MONAI bundle specification, network_data_format
TENSOR_FORMATS = {"magnitude", "hounsfield", "kspace", "segmentation", "multiclass", "classes", "labels", "points"}
INFERENCE_KEYS = ("bundle_root", "device", "network_def", "inferer")
TRAIN_KEYS = (
    "bundle_root",
    "device",
    "dataset_dir",
    "train#trainer",
    "train#trainer#max_epochs",
    "train#dataset",
    "train#dataset#data",
    "train#handlers",
    "validate#evaluator",
    "validate#handlers",
    "validate#dataset",
    "validate#dataset#data",
)

with_metadata = pytest.mark.parametrize("bundle", bundle_params("configs/metadata.json"))


def metadata(bundle: Path) -> dict:
    return json.loads((bundle / "configs" / "metadata.json").read_text())


def pyproject_requirement(name: str) -> Requirement:
    pyproject = tomllib.loads((BUNDLES_DIR.parent / "pyproject.toml").read_text())
    for line in pyproject["project"]["dependencies"]:
        requirement = Requirement(line)
        if requirement.name == name:
            return requirement
    raise AssertionError(f"pyproject.toml does not depend on {name}")


def has_key(config: dict, key: str) -> bool:
    """``a#b#c`` exists in a config that may spell it nested (``{"a": {"b": {"c": ...}}}``) or flat (``"a#b": ...``)."""
    if key in config:
        return True
    head, _, rest = key.partition("#")
    return bool(rest) and isinstance(config.get(head), dict) and has_key(config[head], rest)


@with_metadata
def test_version_is_semver_and_heads_the_changelog(bundle):
    meta = metadata(bundle)
    assert isinstance(meta.get("schema"), str) and meta["schema"].startswith("https://"), "'schema' URL missing"
    assert SEMVER.match(str(meta.get("version"))), f"version {meta.get('version')!r} is not MAJOR.MINOR.PATCH"
    changelog = meta.get("changelog")
    assert isinstance(changelog, dict) and changelog, "'changelog' must map versions to descriptions"
    assert meta["version"] in changelog, f"version {meta['version']} is missing from the changelog"
    assert next(iter(changelog)) == meta["version"], "the first changelog entry must be the current version"
    assert all(SEMVER.match(key) and isinstance(text, str) and text.strip() for key, text in changelog.items())
    ordered = sorted(changelog, key=Version, reverse=True)
    assert list(changelog) == ordered, f"changelog must list versions newest first, got {list(changelog)}"


@with_metadata
def test_software_versions_are_valid_and_consistent_with_the_package(bundle):
    meta = metadata(bundle)
    for key in ("monai_version", "pytorch_version", "numpy_version"):
        try:
            Version(str(meta.get(key)))
        except InvalidVersion:
            pytest.fail(f"{key} {meta.get(key)!r} is not a version")
    monai_requirement = pyproject_requirement("monai")
    assert monai_requirement.specifier.contains(meta["monai_version"]), (
        f"monai_version {meta['monai_version']} is outside pyproject's {monai_requirement}"
    )
    packages = meta.get("required_packages_version")
    assert isinstance(packages, dict), "'required_packages_version' must map package names to versions"
    assert packages.get("mamba-monai") == mamba_monai.__version__, "required_packages_version must pin mamba-monai"
    assert "optional_packages_version" not in meta, "renamed to required_packages_version in MONAI 1.2"
    for name, pinned in packages.items():
        Version(pinned)  # raises on a malformed version
        try:
            installed_version(name)  # the zoo's CI pip-installs these names: each must be a real distribution
        except PackageNotFoundError:
            pytest.fail(f"required_packages_version names {name!r}, which is not an installed distribution")


@with_metadata
def test_descriptive_fields_are_filled(bundle):
    meta = metadata(bundle)
    for key in TOP_LEVEL_TEXT:
        assert isinstance(meta.get(key), str) and meta[key].strip(), f"'{key}' must be a non-empty string"
    missing = [key for key in ZOO_DESCRIPTIVE if key not in meta]
    assert not missing, f"missing model-zoo fields: {missing}"
    assert isinstance(meta["references"], list) and meta["references"]
    assert isinstance(meta["eval_metrics"], dict)


def check_tensor(name: str, spec: dict) -> None:
    missing = [field for field in TENSOR_FIELDS if field not in spec]
    assert not missing, f"{name}: missing {missing}"
    assert spec["type"] in TENSOR_TYPES, f"{name}: type {spec['type']!r} not in {sorted(TENSOR_TYPES)}"
    assert spec["format"] in TENSOR_FORMATS, f"{name}: format {spec['format']!r} not in {sorted(TENSOR_FORMATS)}"
    channels = spec["num_channels"]
    assert isinstance(channels, int) and channels > 0, f"{name}: num_channels must be a positive int"
    shape = spec["spatial_shape"]
    assert isinstance(shape, list) and shape, f"{name}: spatial_shape must be a non-empty list"
    assert all(isinstance(s, int) and s > 0 or isinstance(s, str) for s in shape), f"{name}: spatial_shape {shape}"
    assert all(size > 0 for size in _get_fake_spatial_shape(shape, p=1, n=1, any=1)), f"{name}: {shape}"
    assert isinstance(get_equivalent_dtype(spec["dtype"], torch.Tensor), torch.dtype), f"{name}: dtype {spec['dtype']}"
    value_range = spec["value_range"]
    assert isinstance(value_range, list) and len(value_range) in (0, 2), f"{name}: value_range must be [] or [lo, hi]"
    if value_range:
        assert all(isinstance(v, (int, float)) for v in value_range) and value_range[0] < value_range[1], name
    assert isinstance(spec["is_patch_data"], bool), f"{name}: is_patch_data must be true or false"
    channel_def = spec["channel_def"]
    expected = {str(i) for i in range(channels)}
    assert isinstance(channel_def, dict) and set(channel_def) == expected, (
        f"{name}: channel_def must name channels {sorted(expected, key=int)}, got {sorted(channel_def)}"
    )
    assert all(isinstance(v, str) and v.strip() for v in channel_def.values()), f"{name}: empty channel name"


@with_metadata
def test_network_data_format_describes_every_tensor_and_channel(bundle):
    data_format = metadata(bundle).get("network_data_format")
    assert isinstance(data_format, dict), "'network_data_format' missing"
    inputs, outputs = data_format.get("inputs"), data_format.get("outputs")
    assert isinstance(inputs, dict) and "image" in inputs, "inputs must have 'image' (verify_net_in_out reads it)"
    assert isinstance(outputs, dict) and "pred" in outputs, "outputs must have 'pred' (verify_net_in_out reads it)"
    for kind, tensors in (("inputs", inputs), ("outputs", outputs)):
        for key, spec in tensors.items():
            check_tensor(f"{bundle.name} {kind}#{key}", spec)
    image, pred = inputs["image"], outputs["pred"]
    if pred["type"] == "image":  # a dense prediction lives on the input's grid
        assert len(pred["spatial_shape"]) == len(image["spatial_shape"])


@pytest.mark.parametrize("bundle", bundle_params("configs/metadata.json", "configs/inference.json"))
def test_files_and_config_keys_follow_model_zoo_conventions(bundle):
    for name in ("LICENSE", "docs/README.md", "docs/data_license.txt", "configs/logging.conf"):
        assert (bundle / name).is_file(), f"{bundle.name}: {name} missing"
    inference = json.loads((bundle / "configs" / "inference.json").read_text())
    missing = [key for key in INFERENCE_KEYS if not has_key(inference, key)]
    assert not missing, f"{bundle.name}/configs/inference.json lacks {missing}"
    train_file = bundle / "configs" / "train.json"
    if train_file.is_file():
        train = json.loads(train_file.read_text())
        missing = [key for key in TRAIN_KEYS if not has_key(train, key)]
        assert not missing, f"{bundle.name}/configs/train.json lacks {missing}"
        if "ValidationHandler" in train_file.read_text():
            assert "val_interval" in train, f"{bundle.name}: ValidationHandler needs a top-level 'val_interval'"
