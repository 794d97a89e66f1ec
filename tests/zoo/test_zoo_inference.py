"""End to end: weights hosted on a real HTTP server (127.0.0.1) and listed in large_files.yml, the bundle packed into
a zoo served by the same server, downloaded by name, verified, then its inference run on synthetic micrographs."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from mamba_monai.data.synthetic import write_synthetic_microscopy
from mamba_monai.networks.nets import MSMamba
from mamba_monai.zoo import download_bundle, pack_zoo
from tests.bundles.bundle_runs import run_workflow

NAME = "msmamba_microscopy"
REPO_BUNDLE = Path(__file__).resolve().parents[2] / "bundles" / NAME
CLASSES = ["clustered_cells", "elongated_cells", "irregular_cells", "round_cells"]
TINY = {"depths": [1, 1, 1, 1], "dims": [32, 64, 128, 256]}


def host_weights(weights_dir: Path) -> tuple[dict, dict]:
    """A randomly initialised tiny network and its ``model_meta.json`` (class names, statistics), as training leaves them."""
    weights_dir.mkdir()
    network = MSMamba(in_channels=3, num_classes=len(CLASSES), **TINY)
    state = network.state_dict()
    torch.save(state, weights_dir / "model.pt")
    stats = {"normalise_mean": [0.5, 0.4, 0.6], "normalise_std": [0.2, 0.25, 0.3], "class_names": CLASSES}
    (weights_dir / "model_meta.json").write_text(json.dumps(stats))
    return state, stats


def test_packed_zoo_downloads_verified_and_the_bundle_infers(http_folder, tmp_path, backend):
    backend("reference")  # no kernel build needed for a few 64x64 images
    served, url = http_folder
    state, _ = host_weights(served / "weights")
    bundles = tmp_path / "bundles"
    shutil.copytree(REPO_BUNDLE, bundles / NAME, ignore=shutil.ignore_patterns("models", "eval", "demo_data", "runs"))
    md5 = hashlib.md5((served / "weights" / "model.pt").read_bytes()).hexdigest()
    sha256 = hashlib.sha256((served / "weights" / "model_meta.json").read_bytes()).hexdigest()
    (bundles / NAME / "large_files.yml").write_text(
        "large_files:\n"
        f"  - path: models/model.pt\n    url: {url}/weights/model.pt\n    hash_val: {md5}\n    hash_type: md5\n"
        f"  - path: models/model_meta.json\n    url: {url}/weights/model_meta.json\n"
        f"    hash_val: {sha256}\n    hash_type: sha256\n"
    )

    (entry,) = pack_zoo(bundles, served / "zoo", source_url_prefix=f"{url}/zoo", progress=False)
    info = json.loads((served / "zoo" / "model_info.json").read_text())
    assert info == {f"{NAME}_v{entry.version}": {"checksum": entry.checksum, "source": f"{url}/zoo/{entry.zip_name}"}}
    with zipfile.ZipFile(served / "zoo" / entry.zip_name) as archive:
        assert f"{NAME}/models/model.pt" in archive.namelist()
        assert f"{NAME}/large_files.yml" not in archive.namelist()

    bundle = download_bundle(NAME, f"{url}/zoo/model_info.json", tmp_path / "downloaded", progress=False)
    assert bundle == tmp_path / "downloaded" / NAME
    assert (bundle / "models" / "model.pt").read_bytes() == (served / "weights" / "model.pt").read_bytes()

    write_synthetic_microscopy(tmp_path / "new", n_per_class=1, size=(64, 64), seed=9)
    workflow = run_workflow(
        bundle / "configs",
        str(bundle / "configs" / "inference.json"),
        "infer",
        bundle_root=str(bundle),
        input=str(tmp_path / "new"),
        output_dir=str(tmp_path / "out"),
        image_size=64,
        num_workers=0,
        batch_size=4,
        **{f"network_def#{key}": value for key, value in TINY.items()},
    )
    loaded = workflow.parser.get_parsed_content("network").state_dict()
    assert all(torch.equal(loaded[key].cpu(), value) for key, value in state.items())  # the hosted weights ran
    rows = list(csv.DictReader((tmp_path / "out" / "predictions.csv").open()))
    assert len(rows) == len(CLASSES)
    for row in rows:
        assert row["predicted_class"] in CLASSES
        assert sum(float(row[f"prob_{name}"]) for name in CLASSES) == pytest.approx(1.0, abs=1e-4)
