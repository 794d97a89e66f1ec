"""Which bundles the MONAI Label app serves and how the server is started (no monailabel needed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mamba_monai.label.cli import LabelCLI
from mamba_monai.label.discovery import bundle_task, find_bundles, parse_names, select_bundles
from mamba_monai.label.server import monailabel_unavailable_reason, prepare_app_dir, start_server_argv

REPO_BUNDLES = Path(__file__).resolve().parents[2] / "bundles"


def copy_configs(names, bundles_dir: Path, weights=()) -> Path:
    for name in names:
        shutil.copytree(REPO_BUNDLES / name / "configs", bundles_dir / name / "configs")
        if name in weights:
            (bundles_dir / name / "models").mkdir()
            (bundles_dir / name / "models" / "model.pt").write_bytes(b"weights")
    return bundles_dir


@pytest.mark.parametrize(
    "name, task",
    [
        ("segmamba_brats", "segmentation"),
        ("msmamba_microscopy", "classification"),
        ("medmambase_ultrasound", "classification"),
        ("senet_ultrasound", "classification"),
    ],
)
def test_bundle_task_from_metadata(name, task):
    assert bundle_task(REPO_BUNDLES / name) == task


def test_bundle_task_rejects_other_outputs(tmp_path):
    copy_configs(["segmamba_brats"], tmp_path)
    metadata_file = tmp_path / "segmamba_brats" / "configs" / "metadata.json"
    metadata = json.loads(metadata_file.read_text())
    metadata["network_data_format"]["outputs"]["pred"].update(type="box", format="detection")
    metadata_file.write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match="neither a segmentation .* nor a classification"):
        bundle_task(tmp_path / "segmamba_brats")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ValueError, match="no configs/metadata.json"):
        bundle_task(tmp_path / "nothing")


def test_find_bundles_needs_an_inference_config(tmp_path):
    copy_configs(["segmamba_brats", "msmamba_microscopy"], tmp_path)
    (tmp_path / "docs_only").mkdir()
    assert list(find_bundles(tmp_path)) == ["msmamba_microscopy", "segmamba_brats"]
    with pytest.raises(ValueError, match="does not exist"):
        find_bundles(tmp_path / "missing")


def test_parse_names():
    assert parse_names("a, b,,c ") == ["a", "b", "c"]
    assert parse_names(("a", "b")) == ["a", "b"]  # python-fire turns --models a,b into a tuple
    assert parse_names(None) == []


def test_select_bundles_requires_weights(tmp_path):
    copy_configs(["segmamba_brats", "msmamba_microscopy"], tmp_path, weights=["msmamba_microscopy"])
    with pytest.raises(ValueError, match=r"'segmamba_brats' has no trained weights: .*models/model.pt is missing"):
        select_bundles(tmp_path, "segmamba_brats,msmamba_microscopy")
    selected = select_bundles(tmp_path)  # default: every bundle with weights; the others are skipped
    assert list(selected) == ["msmamba_microscopy"]
    assert selected["msmamba_microscopy"].task == "classification"
    assert selected["msmamba_microscopy"].path == (tmp_path / "msmamba_microscopy").resolve()
    with pytest.raises(ValueError, match=r"unknown bundle\(s\) \['nope'\]"):
        select_bundles(tmp_path, ["nope"])
    shutil.rmtree(tmp_path / "msmamba_microscopy" / "models")
    with pytest.raises(ValueError, match="none has trained weights"):
        select_bundles(tmp_path)


def test_extra_configs_are_merged_only_when_present(tmp_path):
    copy_configs(["segmamba_brats"], tmp_path, weights=["segmamba_brats"])
    bundle = select_bundles(tmp_path, "segmamba_brats", "demo.json,absent.json")["segmamba_brats"]
    configs = bundle.path / "configs"
    assert bundle.config_files() == [str(configs / "inference.json"), str(configs / "demo.json")]
    assert bundle.config_files("train.json") == [str(configs / "train.json"), str(configs / "demo.json")]


def test_start_server_argv():
    argv = start_server_argv("/s", "/app", ["a", "b"], "/bundles", "127.0.0.1", 8123, ["demo.json"], True)
    assert argv[:9] == ["start_server", "--app", "/app", "--studies", "/s", "--host", "127.0.0.1", "--port", "8123"]
    conf = {argv[i + 1]: argv[i + 2] for i, a in enumerate(argv) if a == "--conf"}
    assert conf == {"bundles_dir": "/bundles", "models": "a,b", "configs": "demo.json", "skip_trainers": "true"}


def test_prepare_app_dir_writes_the_loader_entry(tmp_path):
    app = prepare_app_dir(tmp_path / "app")
    main = (app / "main.py").read_text()
    assert "from mamba_monai.label.bundle_app import MambaMonaiLabelApp" in main
    (app / "main.py").write_text("stale")
    prepare_app_dir(app)  # refreshed every time
    assert "MambaMonaiLabelApp" in (app / "main.py").read_text()


@pytest.mark.skipif(monailabel_unavailable_reason() is not None, reason="needs monailabel")
def test_serve_refuses_a_bundle_without_weights(tmp_path):
    copy_configs(["segmamba_brats"], tmp_path / "bundles")
    (tmp_path / "studies").mkdir()
    with pytest.raises(SystemExit, match="has no trained weights"):
        LabelCLI().serve(str(tmp_path / "studies"), "segmamba_brats", bundles_dir=str(tmp_path / "bundles"))
    with pytest.raises(SystemExit, match="studies folder .* does not exist"):
        LabelCLI().serve(str(tmp_path / "missing"), bundles_dir=str(tmp_path / "bundles"))


@pytest.mark.skipif(monailabel_unavailable_reason() is None, reason="monailabel is installed here")
def test_serve_without_monailabel_says_how_to_install_it(tmp_path):
    with pytest.raises(SystemExit, match=r"monailabel is not installed(.|\n)*own virtual environment"):
        LabelCLI().serve(str(tmp_path))
