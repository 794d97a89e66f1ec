"""msmamba_microscopy end to end, model-zoo style: synthetic micrographs in a temp dir, ConfigWorkflow with small
overrides (tiny Microscopic-Mamba, 64x64 images, 1 epoch)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mamba_monai.data.synthetic import write_synthetic_microscopy
from tests.bundles.bundle_runs import (
    assert_verify_net_in_out,
    error_messages,
    output_paths,
    run_multi_gpu_on_cpu,
    run_workflow,
)

BUNDLE = Path(__file__).resolve().parents[2] / "bundles" / "msmamba_microscopy"
CONFIGS = BUNDLE / "configs"
CLASSES = ["clustered_cells", "elongated_cells", "irregular_cells", "round_cells"]  # sorted synthetic class names
TINY = {
    "image_size": 64,
    "num_workers": 0,
    "batch_size": 4,
    "network_def#depths": [1, 1, 1, 1],
    "network_def#dims": [32, 64, 128, 256],
}


def overrides(root: Path, **extra) -> dict:
    return {
        **output_paths(BUNDLE, root),
        "synthetic": "microscopy",
        "synthetic_per_class": 5,
        "synthetic_size": [64, 64],
        **TINY,
        **extra,
    }


def configs(*names: str) -> list[str]:
    return [str(CONFIGS / name) for name in names]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One epoch on 20 synthetic 64x64 micrographs written by the bundle itself (the demo path); the mean/std file is
    missing, so training computes it first."""
    root = tmp_path_factory.mktemp("msmamba")
    wf = run_workflow(CONFIGS, configs("train.json"), "train", **overrides(root, epochs=1, warmup_epochs=1))
    return root, wf


def training_pixels(root: Path) -> np.ndarray:
    """All pixels of the training split, (N, 3) in [0, 1], read independently of the bundle (PIL)."""
    datalist = json.loads((root / "data" / "datalist.json").read_text())
    images = [
        np.asarray(Image.open(root / "data" / item["image"]).convert("RGB"), np.float64).reshape(-1, 3) / 255.0
        for item in datalist["training"]
    ]
    return np.concatenate(images)


def test_train_writes_model_checkpoint_stats_and_curves(trained):
    root, wf = trained
    datalist = json.loads((root / "data" / "datalist.json").read_text())
    assert datalist["classes"] == CLASSES and datalist["training"] and datalist["validation"] and datalist["testing"]
    assert (root / "models" / "model.pt").is_file()
    checkpoints = list((root / "models").glob("checkpoint*epoch=1.pt"))
    assert len(checkpoints) == 1
    state = torch.load(checkpoints[0], map_location="cpu", weights_only=False)
    assert {"model", "optimizer", "lr_scheduler", "trainer", "training_curves"} <= set(state)
    assert (root / "eval" / "training_curves.png").stat().st_size > 1000
    assert wf.trainer.state.epoch == 1

    stats = json.loads((root / "models" / "dataset_stats.json").read_text())
    pixels = training_pixels(root)
    np.testing.assert_allclose(stats["mean"], pixels.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(stats["std"], pixels.std(axis=0), atol=1e-6)
    assert stats["classes"] == CLASSES and stats["num_images"] == len(datalist["training"])


def test_schedule_is_per_iteration_warmup_then_cosine(trained):
    _, wf = trained
    scheduler = wf.parser.get_parsed_content("lr_scheduler")
    iterations = wf.trainer.state.epoch_length
    assert scheduler.warmup_steps == iterations and scheduler.t_total == iterations  # 1 warm-up epoch of 1
    assert scheduler.last_epoch == iterations  # stepped once per iteration
    lambdas = [scheduler.lr_lambda(step) for step in (0, iterations // 2)]
    assert lambdas[0] == pytest.approx(1e-3) and 1e-3 < lambdas[1] < 1.0  # linear warm-up from 1e-3 * lr


def test_compute_stats_config_writes_the_training_statistics(trained, tmp_path):
    root, _ = trained
    stats_file = tmp_path / "stats.json"
    run_workflow(
        CONFIGS,
        configs("train.json", "compute_stats.json"),
        None,
        **overrides(root, dataset_stats_file=str(stats_file)),
    )
    written = json.loads(stats_file.read_text())
    auto = json.loads((root / "models" / "dataset_stats.json").read_text())
    assert written["mean"] == pytest.approx(auto["mean"]) and written["std"] == pytest.approx(auto["std"])
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write left no temporary file


def test_early_stopping_on_validation_loss(tmp_path):
    """lr 0: the validation loss never decreases, so patience 1 stops training after the second validation."""
    wf = run_workflow(
        CONFIGS,
        configs("train.json"),
        "train",
        **overrides(tmp_path, epochs=5, warmup_epochs=1, learning_rate=0.0, early_stop_patience=1),
    )
    assert wf.trainer.state.epoch == 2
    assert "val_loss" in wf.parser.get_parsed_content("validate#evaluator").state.metrics


def test_evaluate_writes_report_with_class_names(trained):
    root, _ = trained
    run_workflow(CONFIGS, configs("train.json", "evaluate.json"), "eval", **overrides(root))
    report = json.loads((root / "eval" / "report.json").read_text())
    n_test = len(json.loads((root / "data" / "datalist.json").read_text())["testing"])
    assert report["class_names"] == CLASSES and report["num_samples"] == n_test
    assert 0.0 <= report["accuracy"] <= 1.0
    rows = list(csv.DictReader((root / "eval" / "per_class_report.csv").open()))
    assert [row["class"] for row in rows][: len(CLASSES)] == CLASSES
    assert (root / "eval" / "confusion_matrix.png").stat().st_size > 1000
    predictions = list(csv.DictReader((root / "eval" / "test_predictions.csv").open()))
    assert len(predictions) == n_test and all(row["predicted_class"] in CLASSES for row in predictions)


def infer(root: Path, input_path, output_dir, *extra_configs, **extra):
    over = overrides(root, input=str(input_path), output_dir=str(output_dir), **extra)
    over.pop("data_list_file_path")
    return run_workflow(
        CONFIGS, configs("inference.json", *extra_configs), "infer" if not extra_configs else None, **over
    )


def test_inference_writes_csv_with_one_probability_column_per_class(trained, tmp_path):
    root, _ = trained
    write_synthetic_microscopy(tmp_path / "new", n_per_class=1, size=(80, 48), seed=9)  # not square, another size
    infer(root, tmp_path / "new", tmp_path / "out")
    rows = list(csv.DictReader((tmp_path / "out" / "predictions.csv").open()))
    assert len(rows) == len(CLASSES)
    assert list(rows[0]) == ["filename", "predicted_class"] + [f"prob_{name}" for name in CLASSES]
    for row in rows:
        assert row["predicted_class"] in CLASSES and Path(row["filename"]).is_file()
        assert sum(float(row[f"prob_{name}"]) for name in CLASSES) == pytest.approx(1.0, abs=1e-4)


def test_explain_writes_gradcam_overlays(trained, tmp_path):
    root, _ = trained
    write_synthetic_microscopy(tmp_path / "new", n_per_class=1, size=(64, 64), seed=4, classes=CLASSES[:2])
    infer(root, tmp_path / "new", tmp_path / "out", "explain.json")
    pngs = sorted((tmp_path / "out" / "explain").glob("*_gradcam.png"))
    assert [p.name for p in pngs] == ["clustered_cells_0000_gradcam.png", "elongated_cells_0000_gradcam.png"]
    assert all(p.stat().st_size > 1000 for p in pngs)


def test_csv_with_missing_file_fails_before_training(tmp_path):
    write_synthetic_microscopy(tmp_path / "data", n_per_class=4, size=(64, 64), seed=2)
    table = tmp_path / "data" / "labels.csv"
    table.write_text(table.read_text() + "round_cells/lost_slide.png,round_cells,slide999\n")
    with pytest.raises(Exception) as err:
        run_workflow(CONFIGS, configs("train.json"), "train", **overrides(tmp_path, epochs=1, csv_file="labels.csv"))
    assert any("lost_slide.png" in m and "do not exist" in m for m in error_messages(err.value))
    assert not (tmp_path / "models").exists()  # nothing trained, no statistics written


def test_verify_net_in_out():
    assert_verify_net_in_out(
        CONFIGS,
        "--n", "2", "--any", "1",
        "--network_def#num_classes", "4", "--network_def#depths", "[1,1,1,1]", "--network_def#dims", "[32,64,128,256]",
    )  # fmt: skip


def test_multi_gpu_config_runs_with_gloo_on_two_cpu_processes(tmp_path):
    write_synthetic_microscopy(tmp_path / "data", n_per_class=5, size=(64, 64), seed=3)
    over = overrides(tmp_path, epochs=1, warmup_epochs=1, csv_file="labels.csv", patient_column="Patient")
    run_multi_gpu_on_cpu(CONFIGS, over)


def test_inference_without_images_names_the_input(trained, tmp_path):
    root, _ = trained
    (tmp_path / "empty").mkdir()
    with pytest.raises(Exception) as err:
        infer(root, tmp_path / "empty", tmp_path / "out")
    assert any("holds no image files" in m and "empty" in m for m in error_messages(err.value))
    assert not (tmp_path / "out").exists()
