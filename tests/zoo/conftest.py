"""Fixtures of the zoo tests: a small fake bundle and an HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.zoo.http_server import serve_folder


def make_bundle(root: Path, name: str = "toy_bundle", version: str = "0.1.0") -> Path:
    """A minimal bundle folder, with the run-time clutter that packing must leave out."""
    bundle = root / name
    (bundle / "configs").mkdir(parents=True)
    (bundle / "docs").mkdir()
    (bundle / "configs" / "metadata.json").write_text(json.dumps({"version": version, "changelog": {version: "x"}}))
    (bundle / "configs" / "inference.json").write_text(json.dumps({"bundle_root": "."}))
    (bundle / "docs" / "README.md").write_text("# toy\n")
    (bundle / "LICENSE").write_text("license text\n")
    for clutter in (
        "eval/report.json",
        "runs/events.out",
        "demo_data/a.png",
        "cache/x.pt",
        "configs/__pycache__/a.pyc",
        "models/model.pt",
        "models/checkpoint_epoch=1.pt",
        ".DS_Store",
        "docs/.hidden.md",
    ):
        (bundle / clutter).parent.mkdir(parents=True, exist_ok=True)
        (bundle / clutter).write_bytes(b"clutter " + clutter.encode())
    return bundle


@pytest.fixture
def toy_bundles(tmp_path) -> Path:
    """``tmp_path/bundles`` with two toy bundles."""
    root = tmp_path / "bundles"
    make_bundle(root, "toy_bundle", "0.1.0")
    make_bundle(root, "other_bundle", "0.2.0")
    return root


@pytest.fixture
def http_folder(tmp_path):
    """(folder, base URL): whatever is put in ``folder`` is served at ``base URL/...``."""
    folder = tmp_path / "served"
    folder.mkdir()
    with serve_folder(folder) as url:
        yield folder, url
