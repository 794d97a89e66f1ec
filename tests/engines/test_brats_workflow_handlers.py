"""The BraTS handlers attached to a real (tiny) MONAI SupervisedTrainer / SupervisedEvaluator on NIfTI files."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedEvaluator, SupervisedTrainer
from monai.handlers import MetricsSaver, ValidationHandler
from monai.losses import DiceLoss
from monai.transforms import Activationsd, AsDiscreted, Compose, LoadImaged
from PIL import Image

from mamba_monai.data.brats import find_brats_cases
from mamba_monai.data.synthetic import write_synthetic_brats
from mamba_monai.data.transforms import ConvertBratsLabelsd
from mamba_monai.engines.handlers import (
    BratsHD95,
    BratsMeanDice,
    BratsMetricsWriter,
    SegmentationOverlayWriter,
    TrainingCurvesPlotter,
)
from mamba_monai.metrics.brats import brats_dice_hd95

REGIONS = ("TC", "WT", "ET")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Train a 1-layer conv net on two synthetic 16^3 BraTS cases (spacing 2 mm) for 2 epochs, validating each."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("brats")
    write_synthetic_brats(root / "data", n_cases=2, shape=(16, 16, 16), spacing=(2.0, 2.0, 2.0))
    # no "case" entry: the case ids must come from the image file names
    cases = [{"image": c["image"], "label": c["label"]} for c in find_brats_cases(root / "data")]
    loader = DataLoader(
        Dataset(cases, Compose([LoadImaged(["image", "label"]), ConvertBratsLabelsd("label")])), batch_size=1
    )
    network = torch.nn.Conv3d(4, 3, kernel_size=1)
    post = Compose([Activationsd("pred", sigmoid=True), AsDiscreted("pred", threshold=0.5)])
    out = root / "eval"
    evaluator = SupervisedEvaluator(
        device="cpu",
        val_data_loader=loader,
        network=network,
        postprocessing=post,
        key_val_metric={"val_dice": BratsMeanDice()},
        additional_metrics={"val_hd95": BratsHD95()},
        val_handlers=[
            BratsMetricsWriter(out),
            SegmentationOverlayWriter(out / "overlays", image_channel=0),
            MetricsSaver(
                str(out / "monai"),
                metrics="*",
                metric_details="*",
                batch_transform=lambda batch: [item["image"].meta for item in batch],
                summary_ops=["mean"],
            ),
        ],
    )
    plotter = TrainingCurvesPlotter(out / "training_curves.png", validator=evaluator)
    trainer = SupervisedTrainer(
        device="cpu",
        max_epochs=2,
        train_data_loader=loader,
        network=network,
        optimizer=torch.optim.SGD(network.parameters(), lr=0.1),
        loss_function=DiceLoss(sigmoid=True),
        postprocessing=post,
        key_train_metric={"train_dice": BratsMeanDice()},
        train_handlers=[ValidationHandler(validator=evaluator, interval=1, epoch_level=True), plotter],
    )
    trainer.run()
    return {"out": out, "trainer": trainer, "evaluator": evaluator, "plotter": plotter}


def read_csv(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def assert_png(path, min_width, min_height):
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        pixels = np.asarray(image.convert("L"), dtype=np.float32)
    assert width >= min_width and height >= min_height, (width, height)
    assert pixels.std() > 5, "the image is blank"


def test_metrics_in_engine_state(run):
    evaluator = run["evaluator"]
    metrics = evaluator.state.metrics
    for name in ("val_dice", "val_hd95"):
        regions = [metrics[f"{name}_{r}"] for r in REGIONS]
        assert metrics[name] == pytest.approx(np.mean(regions))
        details = evaluator.state.metric_details[name]
        assert details.shape == (2, 3)
        assert details.double().mean(dim=0).tolist() == pytest.approx(regions)
    assert 0.0 <= metrics["val_dice"] <= 1.0
    assert metrics["val_hd95"] > 0.0
    assert evaluator.state.best_metric == pytest.approx(max(metrics["val_dice"], evaluator.state.best_metric))
    assert "train_dice_WT" in run["trainer"].state.metrics


def test_per_case_csv_and_summary_json(run):
    out = run["out"]
    rows = read_csv(out / "metrics_per_case.csv")
    expected_columns = ["case"] + [f"{m}_{r}" for m in ("val_dice", "val_hd95") for r in (*REGIONS, "mean")]
    assert list(rows[0]) == expected_columns
    assert [row["case"] for row in rows] == ["BraTS2021_00000", "BraTS2021_00001"]
    summary = json.loads((out / "metrics_summary.json").read_text())
    assert summary["num_cases"] == 2 and summary["epoch"] == 2
    for column in expected_columns[1:]:
        assert summary["means"][column] == pytest.approx(np.mean([float(row[column]) for row in rows]))
    assert summary["means"]["val_dice_mean"] == pytest.approx(summary["metrics"]["val_dice"])
    assert summary["means"]["val_hd95_ET"] == pytest.approx(summary["metrics"]["val_hd95_ET"])
    assert not list(out.glob(".*.tmp")), "temporary files left behind"


def test_csv_matches_an_independent_computation_of_the_last_case(run):
    # the evaluator's output still holds the last case (decollated): recompute its scores from scratch
    last = run["evaluator"].state.output[0]
    scores = brats_dice_hd95(last["pred"], last["label"])  # spacing (2 mm) from the label's affine
    row = read_csv(run["out"] / "metrics_per_case.csv")[-1]
    for region in REGIONS:
        assert float(row[f"val_dice_{region}"]) == pytest.approx(scores[f"dice_{region}"], abs=1e-6)
        assert float(row[f"val_hd95_{region}"]) == pytest.approx(scores[f"hd95_{region}"], abs=1e-5)


def test_monai_metrics_saver_reads_the_details(run):
    # MONAI's own MetricsSaver works with the handlers too (one CSV per metric, columns class0..2, full paths)
    raw = read_csv(run["out"] / "monai" / "val_hd95_raw.csv")
    assert len(raw) == 2
    assert list(raw[0]) == ["filename", "class0", "class1", "class2", "mean"]
    assert raw[0]["filename"].endswith("BraTS2021_00000_flair.nii.gz")


def test_training_curves_png(run):
    plotter = run["plotter"]
    assert [epoch for epoch, _ in plotter.loss] == [1, 2]
    assert [epoch for epoch, _ in plotter.val_metrics["val_dice"]] == [1, 2]
    assert set(plotter.val_metrics) == {f"{m}{s}" for m in ("val_dice", "val_hd95") for s in ("", "_TC", "_WT", "_ET")}
    assert [epoch for epoch, _ in plotter.train_metrics["train_dice"]] == [1, 2]
    assert_png(run["out"] / "training_curves.png", min_width=800, min_height=300)


def test_overlay_pngs_per_epoch(run):
    overlays = sorted(p.name for p in (run["out"] / "overlays").iterdir())
    assert overlays == ["overlay_epoch0001.png", "overlay_epoch0002.png"]
    assert_png(run["out"] / "overlays" / "overlay_epoch0002.png", min_width=600, min_height=300)
