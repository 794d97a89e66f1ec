"""BratsMetricsWriter on a plain ignite engine: case ids, columns, JSON summary, errors; case_id_from_filename."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from ignite.engine import Engine, Events
from monai.data import MetaTensor

from mamba_monai.engines.handlers import BratsMetricsWriter, case_id_from_filename


@pytest.mark.parametrize(
    "filename, case",
    [
        ("/data/BraTS2021_00000/BraTS2021_00000_flair.nii.gz", "BraTS2021_00000"),
        ("BraTS2021_00012_T1ce.nii", "BraTS2021_00012"),
        ("/d/BraTS-GLI-00003-000/BraTS-GLI-00003-000-t2f.nii.gz", "BraTS-GLI-00003-000"),
        ("/d/case_7.nii.gz", "case_7"),
        ("/d/volume.nrrd", "volume"),
        (["/d/BraTS2021_00001_flair.nii.gz", "/d/BraTS2021_00001_t1.nii.gz"], "BraTS2021_00001"),
    ],
)
def test_case_id_from_filename(filename, case):
    assert case_id_from_filename(filename) == case


def make_engine(batches, details, metrics=None):
    """An engine whose iterations yield the given (decollated) batches and that ends with the given details."""
    engine = Engine(lambda e, batch: None)
    engine.state.metric_details = {}

    @engine.on(Events.EPOCH_COMPLETED)
    def _set(e):  # stands for the metric handlers, which run before the writer
        e.state.metric_details.update(details)
        e.state.metrics.update(metrics or {})

    return engine, batches


def run_writer(tmp_path, batches, details, metrics=None, **kwargs):
    engine, data = make_engine(batches, details, metrics)
    writer = BratsMetricsWriter(tmp_path, **kwargs)
    writer.attach(engine)
    engine.run(data, max_epochs=1)
    with open(tmp_path / "metrics_per_case.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    return rows, json.loads((tmp_path / "metrics_summary.json").read_text())


def image_with_file(name):
    return MetaTensor(torch.zeros(1, 2, 2, 2), meta={"filename_or_obj": name})


def test_case_key_columns_and_summary(tmp_path):
    batches = [[{"case": "A", "image": image_with_file("/x/zzz_flair.nii.gz")}], [{"case": "B"}]]
    details = {
        "dice": torch.tensor([[1.0, 0.5, 0.0], [0.5, 0.5, 1.0]]),
        "loss_per_case": torch.tensor([0.25, 0.75]),
    }
    rows, summary = run_writer(tmp_path, batches, details, metrics={"dice": 0.5833, "tag": "text"})
    assert [r["case"] for r in rows] == ["A", "B"]
    assert list(rows[0]) == ["case", "dice_TC", "dice_WT", "dice_ET", "dice_mean", "loss_per_case"]
    assert float(rows[0]["dice_mean"]) == pytest.approx(0.5)
    assert summary["means"] == pytest.approx(
        {"dice_TC": 0.75, "dice_WT": 0.5, "dice_ET": 0.5, "dice_mean": 0.5833333, "loss_per_case": 0.5}
    )
    assert summary["metrics"] == {"dice": 0.5833}  # non-scalar metrics are left out
    assert summary["num_cases"] == 2


def test_file_name_fallback_index_fallback_and_metric_selection(tmp_path):
    batches = [[{"image": image_with_file("/x/BraTS2021_00007_flair.nii.gz")}, {"image": torch.zeros(1, 2, 2, 2)}]]
    details = {"a": torch.tensor([[1.0, 2.0], [3.0, float("nan")]]), "b": torch.tensor([[1.0], [2.0]])}
    rows, summary = run_writer(tmp_path, batches, details, metric_names=["a"], region_names=("TC", "WT", "ET"))
    assert [r["case"] for r in rows] == ["BraTS2021_00007", "case_0001"]
    # 2 channels for 3 region names: columns named by index; NaN written empty and ignored by the means
    assert list(rows[0]) == ["case", "a_0", "a_1", "a_mean"]
    assert rows[1]["a_1"] == ""
    assert summary["means"] == pytest.approx({"a_0": 2.0, "a_1": 2.0, "a_mean": 2.25})


def test_all_nan_column_is_null_in_json(tmp_path):
    rows, summary = run_writer(tmp_path, [[{"case": "A"}]], {"m": torch.tensor([[float("nan"), 1.0, 1.0]])})
    assert summary["means"]["m_TC"] is None
    assert "NaN" not in (tmp_path / "metrics_summary.json").read_text()


def test_mismatched_case_count_warns_and_uses_indices(tmp_path):
    with pytest.warns(UserWarning, match="case ids"):
        rows, _ = run_writer(tmp_path, [[{"case": "A"}]], {"m": torch.ones(2, 3)})
    assert [r["case"] for r in rows] == ["case_0000", "case_0001"]


def test_missing_details_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="save_details=True"):
        run_writer(tmp_path, [[{"case": "A"}]], {"m": torch.ones(1, 3)}, metric_names=["val_dice"])
    with pytest.raises(ValueError, match="plain file name"):
        BratsMetricsWriter(tmp_path, csv_name="sub/x.csv")
