"""The lines bundle runs end with: a training run names a best model only when a validation of this run chose it;
evaluation and inference runs name their outputs and never claim a missing one."""

from __future__ import annotations

from types import SimpleNamespace

from mamba_monai.bundle import training_report


def engines(validated: bool):
    trainer = SimpleNamespace(state=SimpleNamespace(epoch=3))
    state = SimpleNamespace(iteration=5 if validated else 0, key_metric_name="val_mean_dice", best_metric=0.8123,
                            best_metric_epoch=2)  # fmt: skip
    return trainer, SimpleNamespace(state=state)


def test_after_validation_the_best_model_is_named(tmp_path):
    line = training_report("SegMamba training", *engines(True), tmp_path / "models", tmp_path / "eval")
    assert "after 3 epoch(s)" in line and "val_mean_dice 0.8123 after epoch 2" in line
    assert str((tmp_path / "models" / "model.pt").resolve()) in line


def test_without_validation_no_best_model_is_claimed(tmp_path):
    line = training_report("SegMamba training", *engines(False), tmp_path / "models", tmp_path / "eval")
    assert "Best model" not in line and "no best model was saved" in line


def test_without_validation_an_older_model_is_called_older(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "model.pt").write_bytes(b"x")
    line = training_report("SegMamba training", *engines(False), tmp_path / "models", tmp_path / "eval")
    assert "Best model" not in line and "is from an earlier run" in line


def test_run_report_names_outputs_and_marks_missing_ones(tmp_path, capsys):
    from mamba_monai.bundle import run_report

    (tmp_path / "report.json").write_text("{}")
    (tmp_path / "overlays").mkdir()
    line = run_report("X evaluation", tmp_path, ["report.json", "overlays/", "absent.csv"], count=3,
                      metrics={"accuracy": 0.5, "n": 2})  # fmt: skip
    assert line.startswith("X evaluation done on 3 images: accuracy 0.5000, n 2; outputs in ")
    assert "report.json, overlays/, absent.csv (missing)" in line and str(tmp_path.resolve()) in line
    assert capsys.readouterr().out.strip() == line
