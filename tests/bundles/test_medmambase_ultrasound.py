"""medmambase_ultrasound end to end, model-zoo style: synthetic ultrasound planes in a temp dir, ConfigWorkflow with
small overrides (a tiny MedMambaSE, 64x64 images, 4 images per class, 1 epoch)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from mamba_monai.data import ensure_classification_datalist
from mamba_monai.data.synthetic import write_synthetic_ultrasound
from tests.bundles.bundle_runs import (
    assert_verify_net_in_out,
    error_messages,
    output_paths,
    run_multi_gpu_on_cpu,
    run_workflow,
)

BUNDLE = Path(__file__).resolve().parents[2] / "bundles" / "medmambase_ultrasound"
CONFIGS = BUNDLE / "configs"
CLASSES = ["fetal_abdomen", "fetal_brain", "fetal_femur", "fetal_thorax", "maternal_cervix", "other"]
TINY = {
    "image_size": 64,
    "num_workers": 0,
    "batch_size": 8,
    "network_def#dims": 16,
    "network_def#depths": [1, 1, 1, 1],
}


def overrides(root: Path, **extra) -> dict:
    return {
        **output_paths(BUNDLE, root),
        "synthetic": "ultrasound",
        "synthetic_per_class": 4,
        "synthetic_size": [64, 64],
        **TINY,
        **extra,
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One epoch on the synthetic set the bundle writes itself into an empty dataset_dir (the demo path)."""
    root = tmp_path_factory.mktemp("medmambase")
    with pytest.warns(UserWarning, match="SYNTHETIC"):
        wf = run_workflow(CONFIGS, str(CONFIGS / "train.json"), "train", **overrides(root, epochs=1))
    return root, wf


def test_train_writes_model_checkpoint_and_curves(trained):
    root, wf = trained
    datalist = json.loads((root / "data" / "datalist.json").read_text())
    assert datalist["classes"] == CLASSES
    assert datalist["training"] and datalist["validation"] and datalist["testing"]
    assert (root / "models" / "model.pt").is_file()
    checkpoints = list((root / "models").glob("checkpoint*epoch=1.pt"))
    assert len(checkpoints) == 1
    state = torch.load(checkpoints[0], map_location="cpu", weights_only=False)
    assert {"model", "optimizer", "trainer", "training_curves", "best_model_record"} <= set(state)
    assert state["best_model_record"]["_saved"], "the best model's record travels in the training checkpoint"
    meta = json.loads((root / "models" / "model_meta.json").read_text())  # what inference needs, beside model.pt
    assert meta["class_names"] == CLASSES and len(meta["normalise_mean"]) == 3 and "_desc_" not in meta
    assert (root / "eval" / "training_curves.png").stat().st_size > 1000
    assert wf.trainer.state.epoch == 1
    metrics = wf.evaluator.state.metrics
    assert 0.0 <= metrics["val_accuracy"] <= 1.0 and "val_auc" in metrics
    network = wf.parser.get_parsed_content("network")
    assert type(network).__name__ == "MedMambaSE" and network.num_classes == len(CLASSES)
    optimizer = wf.parser.get_parsed_content("optimizer")
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)


def test_training_transforms_give_normalised_square_images(trained):
    root, wf = trained
    item = wf.parser.get_parsed_content("train#dataset")[0]
    image = item["image"]
    assert tuple(image.shape) == (3, 64, 64)
    assert image.min() >= -1.0 - 1e-5 and image.max() <= 1.0 + 1e-5 and image.min() < 0  # (x - 0.5) / 0.5


def test_evaluate_writes_report_with_class_names(trained):
    root, _ = trained
    run_workflow(CONFIGS, [str(CONFIGS / "train.json"), str(CONFIGS / "evaluate.json")], "eval", **overrides(root))
    report = json.loads((root / "eval" / "report.json").read_text())
    assert 0.0 <= report["accuracy"] <= 1.0
    rows = list(csv.DictReader((root / "eval" / "per_class_report.csv").open()))
    assert [row["class"] for row in rows] == CLASSES
    n_test = len(json.loads((root / "data" / "datalist.json").read_text())["testing"])
    assert sum(int(row["support"]) for row in rows) == n_test
    assert (root / "eval" / "confusion_matrix.png").stat().st_size > 1000


def infer(root: Path, config_files, **extra):
    over = overrides(root, **extra)
    for key in ("synthetic_per_class", "synthetic_size"):
        over.pop(key)
    return run_workflow(CONFIGS, config_files, "infer", **over)


def test_inference_writes_csv_with_probability_columns(trained, tmp_path):
    root, _ = trained
    write_synthetic_ultrasound(tmp_path / "planes", n_per_class=1, size=(80, 96), seed=7)  # not the training size
    infer(root, str(CONFIGS / "inference.json"), input=str(tmp_path / "planes"), output_dir=str(tmp_path / "out"))
    with (tmp_path / "out" / "predictions.csv").open() as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["filename", "predicted_class", *(f"prob_{name}" for name in CLASSES)]
    assert len(rows) == 1 + len(CLASSES)
    for row in rows[1:]:
        assert Path(row[0]).is_file() and row[1] in CLASSES
        assert sum(float(p) for p in row[2:]) == pytest.approx(1.0, abs=1e-4)


def test_explain_writes_gradcam_and_se_weight_figures(trained, tmp_path):
    root, _ = trained
    write_synthetic_ultrasound(tmp_path / "planes", n_per_class=1, size=(64, 64), classes=CLASSES[:2], seed=8)
    configs = [str(CONFIGS / "inference.json"), str(CONFIGS / "explain.json")]
    infer(root, configs, input=str(tmp_path / "planes"), output_dir=str(tmp_path / "out"))
    explain = tmp_path / "out" / "explain"
    assert sorted(p.name for p in explain.glob("*_gradcam.png")) == [
        "fetal_abdomen_0000_gradcam.png",
        "fetal_brain_0000_gradcam.png",
    ]
    se_figures = sorted(explain.glob("*_se_weights.png"))
    assert [p.name for p in se_figures] == ["fetal_abdomen_0000_se_weights.png", "fetal_brain_0000_se_weights.png"]
    assert all(p.stat().st_size > 1000 for p in se_figures)


def test_missing_file_in_csv_is_reported_before_training(tmp_path):
    data = tmp_path / "data"
    write_synthetic_ultrasound(data, n_per_class=3, size=(64, 64), seed=1)
    with (data / "labels.csv").open("a") as stream:
        stream.write("fetal_brain/missing_scan.png,fetal_brain,P9\n")
    with pytest.raises(Exception) as err:
        run_workflow(
            CONFIGS, str(CONFIGS / "train.json"), "train", **overrides(tmp_path, epochs=1, csv_file="labels.csv")
        )
    assert any("missing_scan.png" in m for m in error_messages(err.value)), error_messages(err.value)
    assert not (tmp_path / "models").exists() and not (data / "datalist.json").exists()


def test_verify_net_in_out():
    assert_verify_net_in_out(
        CONFIGS,
        "--n", "2", "--any", "32", "--num_classes", "6",
        "--network_def#dims", "16", "--network_def#depths", "[1,1,1,1]",
    )  # fmt: skip


def test_multi_gpu_config_runs_with_gloo_on_two_cpu_processes(tmp_path):
    over = overrides(tmp_path, epochs=1)
    with pytest.warns(UserWarning, match="SYNTHETIC"):  # written once here, not by two ranks at the same time
        ensure_classification_datalist(
            over["dataset_dir"], over["data_list_file_path"], synthetic="ultrasound", n_per_class=4, size=(64, 64)
        )
    run_multi_gpu_on_cpu(CONFIGS, over)
