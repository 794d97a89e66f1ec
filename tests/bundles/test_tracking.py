"""Experiment tracking: TensorBoard event files by default, MLflow with monai.bundle's ``tracking="mlflow"``.

MONAI 1.6.1 keeps MLflow runs in a local SQLite store, ``<output_dir>/mlruns.db`` (artifacts under
``<output_dir>/mlruns``), unless ``tracking_uri`` names another; it refuses MLflow's old file store (``file://`` /
a plain folder), which MLflow itself has put in maintenance mode. One epoch of the tiny medmambase_ultrasound bundle
serves both checks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from monai.utils import path_to_sqlite_uri

from tests.bundles.bundle_runs import bundle_params, run_workflow
from tests.bundles.test_medmambase_ultrasound import CONFIGS, overrides


def tensorboard_scalars(folder: Path) -> dict[str, int]:
    """Scalar tags of all TensorBoard event files in ``folder`` and how many values each has."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    counts: dict[str, int] = {}
    for events in folder.glob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            counts[tag] = counts.get(tag, 0) + len(accumulator.Scalars(tag))
    return counts


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory):
    pytest.importorskip("mlflow")
    root = tmp_path_factory.mktemp("tracking")
    with pytest.warns(UserWarning, match="SYNTHETIC"):
        wf = run_workflow(
            CONFIGS,
            str(CONFIGS / "train.json"),
            "train",
            tracking="mlflow",
            # with output_dir given as a plain path, MONAI 1.6.1 builds a broken default path for the executed config
            # ("<dir> + '/config_....json'") and logs no artifact; naming the file avoids that
            **overrides(root, epochs=1, run_name="tiny_medmambase", save_execute_config=str(root / "executed.json")),
        )
    return root, wf


def test_tensorboard_event_files_hold_loss_and_validation_metrics(tracked_run):
    root, wf = tracked_run
    scalars = tensorboard_scalars(root / "eval")
    assert scalars.get("train_loss") == wf.trainer.state.iteration  # one value per iteration
    assert scalars.get("val_accuracy") == 1  # one validation round


def test_mlflow_run_in_the_local_sqlite_store_has_params_metrics_and_config(tracked_run):
    import mlflow

    root, wf = tracked_run
    database = root / "eval" / "mlruns.db"
    assert database.is_file()
    client = mlflow.MlflowClient(tracking_uri=path_to_sqlite_uri(str(database)))
    experiment = client.get_experiment_by_name("monai_experiment")
    runs = client.search_runs([experiment.experiment_id])
    assert [run.info.run_name for run in runs] == ["tiny_medmambase"]  # trainer and validator share one run
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.params["max_epochs"] == "1"
    assert int(run.data.params["epoch_length"]) == wf.trainer.state.epoch_length
    history = client.get_metric_history(run.info.run_id, "train_loss")
    assert len(history) == wf.trainer.state.iteration
    assert run.data.metrics["val_accuracy"] == pytest.approx(wf.evaluator.state.metrics["val_accuracy"])
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["executed.json"]
    (root / "downloaded").mkdir()
    downloaded = client.download_artifacts(run.info.run_id, "executed.json", str(root / "downloaded"))
    logged = json.loads(Path(downloaded).read_text())
    assert logged["network_def"]["_target_"] == "mamba_monai.networks.nets.MedMambaSE"  # the executed config
    assert logged["epochs"] == 1


def test_mlflow_file_store_is_refused_with_a_clear_message(tmp_path):
    pytest.importorskip("mlflow")
    from monai.handlers import MLFlowHandler

    with pytest.raises(ValueError, match="file store.*sqlite"):
        MLFlowHandler(tracking_uri=(tmp_path / "mlruns").as_uri())


@pytest.mark.parametrize("bundle", bundle_params("configs/train.json"))
def test_every_bundle_logs_training_and_validation_to_tensorboard(bundle):
    train = json.loads((bundle / "configs" / "train.json").read_text())
    for section in ("train", "validate"):
        handlers = train[section]["handlers"]
        tensorboard = [h for h in handlers if isinstance(h, dict) and h.get("_target_") == "TensorBoardStatsHandler"]
        assert tensorboard, f"{bundle.name}: no TensorBoardStatsHandler in {section}#handlers"
        assert all(h.get("log_dir") == "@output_dir" for h in tensorboard), f"{bundle.name}: log_dir is not output_dir"
