"""ClassificationReportWriter and PredictionCSVWriter on a real MONAI SupervisedEvaluator (tiny CNN, 32x32 PNGs)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedEvaluator
from monai.transforms import Activationsd, AsDiscreted, Compose, EnsureTyped, LoadImaged, ScaleIntensityd
from PIL import Image
from torch import nn

from mamba_monai.engines.handlers.classification_report_writer import ClassificationReportWriter
from mamba_monai.engines.handlers.prediction_csv_writer import PredictionCSVWriter
from mamba_monai.metrics.classification import classification_report, to_jsonable

CLASS_NAMES = ["benign", "malignant", "normal"]
LABELS = [0, 1, 2, 0]


def tiny_cnn() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)
    ).eval()


@pytest.fixture
def image_files(tmp_path):
    rng = np.random.default_rng(0)
    items = []
    for i, label in enumerate(LABELS):
        path = tmp_path / "images" / f"case_{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(path)
        items.append({"image": str(path), "label": label})
    return items


def make_evaluator(items, network, handlers, postprocessing=None, decollate=True):
    """2 iterations of batch 2 (4 images)."""
    preprocessing = Compose(
        [LoadImaged("image", ensure_channel_first=True), ScaleIntensityd("image"), EnsureTyped("label")]
    )
    loader = DataLoader(Dataset(items, preprocessing), batch_size=2, shuffle=False, num_workers=0)
    return SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=loader,
        network=network,
        postprocessing=postprocessing,
        val_handlers=handlers,
        decollate=decollate,
    )


def direct_probabilities(items, network):
    """The network's softmax outputs on the same images, computed without the workflow (same batches of 2)."""
    load = Compose([LoadImaged("image", ensure_channel_first=True), ScaleIntensityd("image")])
    images = torch.stack([torch.as_tensor(load(dict(item))["image"]) for item in items])
    with torch.no_grad():
        return torch.cat([torch.softmax(network(batch), dim=1) for batch in images.split(2)]).numpy()


def read_csv(path):
    with open(path, newline="") as stream:
        return list(csv.reader(stream))


def test_report_files_equal_direct_computation(tmp_path, image_files):
    network = tiny_cnn()
    writer = ClassificationReportWriter(tmp_path / "report", CLASS_NAMES)
    evaluator = make_evaluator(image_files, network, [writer])
    evaluator.run()
    assert evaluator.state.iteration == 2

    expected = classification_report(LABELS, direct_probabilities(image_files, network), CLASS_NAMES)
    with open(tmp_path / "report" / "report.json") as stream:
        written = json.load(stream)
    assert written == to_jsonable(expected)
    assert written["num_samples"] == 4
    assert sum(map(sum, written["confusion_matrix"])) == 4

    rows = read_csv(tmp_path / "report" / "per_class_report.csv")
    assert rows[0] == ["class", "precision", "recall", "f1", "specificity", "support", "auc"]
    assert [row[0] for row in rows[1:]] == CLASS_NAMES
    assert [int(row[5]) for row in rows[1:]] == [2, 1, 1]
    for row in rows[1:]:
        assert float(row[1]) == pytest.approx(expected["per_class"][row[0]]["precision"])
        assert float(row[6]) == pytest.approx(expected["per_class"][row[0]]["auc"])

    with Image.open(tmp_path / "report" / "confusion_matrix.png") as png:
        assert png.format == "PNG" and png.size[0] > png.size[1] > 100
    assert not list((tmp_path / "report").glob(".*.tmp"))


def test_report_with_probabilities_and_without_decollation(tmp_path, image_files):
    """Softmax in post-processing (probabilities in 'pred') and batch-first outputs give the same report."""
    network = tiny_cnn()
    reference = ClassificationReportWriter(tmp_path / "a", CLASS_NAMES)
    make_evaluator(image_files, network, [reference]).run()

    probabilities = ClassificationReportWriter(tmp_path / "b", CLASS_NAMES)
    softmax = Activationsd("pred", softmax=True)
    make_evaluator(image_files, network, [probabilities], postprocessing=softmax).run()

    batch_first = ClassificationReportWriter(tmp_path / "c", CLASS_NAMES)
    make_evaluator(image_files, network, [batch_first], decollate=False).run()

    assert probabilities.report == reference.report
    assert batch_first.report == reference.report


def test_rounds_are_reset_and_double_attach_counts_once(tmp_path, image_files):
    writer = ClassificationReportWriter(tmp_path, CLASS_NAMES)
    evaluator = make_evaluator(image_files, tiny_cnn(), [writer])
    writer.attach(evaluator)  # a second attach must not collect twice
    evaluator.run()
    evaluator.run()  # a second round starts from scratch
    assert writer.report["num_samples"] == 4


def test_one_hot_predictions_warn(tmp_path, image_files):
    writer = ClassificationReportWriter(tmp_path, CLASS_NAMES)
    one_hot = AsDiscreted("pred", argmax=True, to_onehot=3)
    evaluator = make_evaluator(image_files, tiny_cnn(), [writer], postprocessing=one_hot)
    with pytest.warns(UserWarning, match="one-hot"):
        evaluator.run()
    assert writer.report["num_samples"] == 4


def test_report_writer_errors(tmp_path, image_files):
    with pytest.raises(ValueError, match="at least two"):
        ClassificationReportWriter(tmp_path, ["only"])
    with pytest.raises(ValueError, match="plain file name"):
        ClassificationReportWriter(tmp_path, CLASS_NAMES, report_name="sub/report.json")
    with pytest.raises(ValueError, match="activation"):
        ClassificationReportWriter(tmp_path, CLASS_NAMES, activation="sigmoid")
    two_names = ClassificationReportWriter(tmp_path, ["a", "b"])
    with pytest.raises(ValueError, match="3 values but there are 2 class names"):
        make_evaluator(image_files, tiny_cnn(), [two_names]).run()


def test_prediction_csv_rows_and_columns(tmp_path, image_files):
    network = tiny_cnn()
    output = tmp_path / "inference" / "predictions.csv"
    writer = PredictionCSVWriter(output, CLASS_NAMES)
    make_evaluator(image_files, network, [writer]).run()

    rows = read_csv(output)
    assert rows[0] == ["filename", "predicted_class", "prob_benign", "prob_malignant", "prob_normal"]
    assert [row[0] for row in rows[1:]] == [item["image"] for item in image_files]
    expected = direct_probabilities(image_files, network)
    written = np.array([[float(value) for value in row[2:]] for row in rows[1:]])
    np.testing.assert_allclose(written, expected, atol=2e-6)
    np.testing.assert_allclose(written.sum(axis=1), 1.0, atol=1e-5)
    assert [row[1] for row in rows[1:]] == [CLASS_NAMES[k] for k in expected.argmax(axis=1)]
    assert not list(output.parent.glob(".*.tmp"))


def test_prediction_csv_without_file_names_and_batch_first(tmp_path):
    """Tensors without meta get image_<index>; batch-first outputs (decollate=False) work too."""
    items = [{"image": torch.rand(1, 32, 32), "label": 0} for _ in range(3)]
    loader = DataLoader(Dataset(items), batch_size=2, num_workers=0)
    output = tmp_path / "p.csv"
    writer = PredictionCSVWriter(output, CLASS_NAMES, float_format=".3f")
    SupervisedEvaluator(
        device=torch.device("cpu"), val_data_loader=loader, network=tiny_cnn(), val_handlers=[writer], decollate=False
    ).run()
    rows = read_csv(output)
    assert [row[0] for row in rows[1:]] == ["image_0000", "image_0001", "image_0002"]
    assert all(len(row[2].split(".")[1]) == 3 for row in rows[1:])


def test_prediction_csv_warns_on_one_hot_predictions(tmp_path, image_files):
    writer = PredictionCSVWriter(tmp_path / "p.csv", CLASS_NAMES)
    one_hot = AsDiscreted("pred", argmax=True, to_onehot=3)
    with pytest.warns(UserWarning, match="one-hot"):
        make_evaluator(image_files, tiny_cnn(), [writer], postprocessing=one_hot).run()


def test_prediction_csv_errors(tmp_path):
    with pytest.raises(ValueError, match="unique"):
        PredictionCSVWriter(tmp_path / "p.csv", ["a", "a"])
    with pytest.raises(ValueError, match="must be a file"):
        PredictionCSVWriter(tmp_path, CLASS_NAMES)
    with pytest.raises(ValueError, match="float format"):
        PredictionCSVWriter(tmp_path / "p.csv", CLASS_NAMES, float_format="q")


BUNDLE_CONFIG = {
    "imports": ["$import torch", "$import monai", "$import mamba_monai"],
    "output_dir": "OUTPUT",
    "class_names": CLASS_NAMES,
    "num_classes": "$len(@class_names)",
    "datalist": "DATALIST",
    "network": "NETWORK",
    "preprocessing": {
        "_target_": "Compose",
        "transforms": [
            {"_target_": "LoadImaged", "keys": "image", "ensure_channel_first": True},
            {"_target_": "ScaleIntensityd", "keys": "image"},
        ],
    },
    "dataloader": {
        "_target_": "DataLoader",
        "dataset": {"_target_": "Dataset", "data": "@datalist", "transform": "@preprocessing"},
        "batch_size": 2,
    },
    "validate": {
        "postprocessing": {
            "_target_": "Compose",
            "transforms": [
                {"_target_": "Activationsd", "keys": "pred", "softmax": True},
                {"_target_": "CopyItemsd", "keys": "pred", "names": "prob"},
                {
                    "_target_": "AsDiscreted",
                    "keys": ["pred", "label"],
                    "argmax": [True, False],
                    "to_onehot": "@num_classes",
                },
            ],
        },
        "key_metric": {
            "val_auc": {
                "_target_": "ROCAUC",
                "output_transform": "$monai.handlers.from_engine(['prob', 'label'])",
            }
        },
        "handlers": [
            {
                "_target_": "mamba_monai.engines.handlers.classification_report_writer.ClassificationReportWriter",
                "output_dir": "$@output_dir + '/report'",
                "class_names": "@class_names",
                "pred_key": "prob",
            },
            {
                "_target_": "mamba_monai.engines.handlers.prediction_csv_writer.PredictionCSVWriter",
                "output_path": "$@output_dir + '/predictions.csv'",
                "class_names": "@class_names",
                "pred_key": "prob",
            },
        ],
        "evaluator": {
            "_target_": "SupervisedEvaluator",
            "device": "$torch.device('cpu')",
            "val_data_loader": "@dataloader",
            "network": "@network",
            "postprocessing": "@validate#postprocessing",
            "key_val_metric": "@validate#key_metric",
            "val_handlers": "@validate#handlers",
        },
    },
}


def test_handlers_from_bundle_config(tmp_path, image_files):
    """The config snippet of the classification bundles: probabilities copied to 'prob' before the one-hot
    post-processing that the metrics need; one-hot labels; the CSV's predicted class from the one-hot 'pred'."""
    from monai.bundle import ConfigParser

    network = tiny_cnn()
    parser = ConfigParser(BUNDLE_CONFIG)
    parser["output_dir"] = str(tmp_path)
    parser["datalist"] = image_files
    parser["network"] = network
    evaluator = parser.get_parsed_content("validate#evaluator")
    evaluator.run()

    probabilities = direct_probabilities(image_files, network)
    with open(tmp_path / "report" / "report.json") as stream:
        assert json.load(stream) == to_jsonable(classification_report(LABELS, probabilities, CLASS_NAMES))
    rows = read_csv(tmp_path / "predictions.csv")
    assert [row[1] for row in rows[1:]] == [CLASS_NAMES[k] for k in probabilities.argmax(axis=1)]
    np.testing.assert_allclose([[float(v) for v in row[2:]] for row in rows[1:]], probabilities, atol=2e-6)
    assert evaluator.state.metrics["val_auc"] == pytest.approx(
        np.mean([classification_report(LABELS, probabilities, CLASS_NAMES)["per_class"][n]["auc"] for n in CLASS_NAMES])
    )


def test_prediction_csv_keeps_the_rows_made_before_a_failure(tmp_path, image_files):
    """The table holds the rows so far after every iteration: a run that dies at its second batch keeps the first."""
    network, calls = tiny_cnn(), []

    def failing_forward(module, inputs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the machine ran out of memory")

    network.register_forward_pre_hook(failing_forward)
    output = tmp_path / "predictions.csv"
    with pytest.raises(RuntimeError, match="out of memory"):
        make_evaluator(image_files, network, [PredictionCSVWriter(output, CLASS_NAMES)]).run()
    rows = read_csv(output)
    assert [row[0] for row in rows[1:]] == [item["image"] for item in image_files[:2]]
