"""TrainingCurvesPlotter with plain ignite engines: loss per epoch, validation rounds, panels, state, errors."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine, Events
from PIL import Image

from mamba_monai.engines.handlers import TrainingCurvesPlotter


def make_engines(validate_every=1):
    """A trainer whose loss is the batch value, and a plain ignite validator run every ``validate_every`` epochs."""
    trainer = Engine(lambda engine, batch: [{"loss": torch.tensor(float(batch))}, {"loss": torch.tensor(99.0)}])
    validator = Engine(lambda engine, batch: None)

    @validator.on(Events.EPOCH_COMPLETED)
    def _metrics(engine):
        epoch = trainer.state.epoch
        engine.state.metrics.update(
            {"dice": 0.1 * epoch, "dice_TC": 0.2 * epoch, "hd95": 10.0 / epoch, "report": {"not": "scalar"}}
        )

    @trainer.on(Events.EPOCH_COMPLETED)
    def _validate(engine):
        if engine.state.epoch % validate_every == 0:
            validator.run([0])

    return trainer, validator


def test_loss_per_epoch_and_validation_rounds(tmp_path):
    trainer, validator = make_engines(validate_every=2)
    plotter = TrainingCurvesPlotter(tmp_path / "curves" / "training.png", validator=validator)
    plotter.attach(trainer)
    plotter.attach(trainer)  # attaching twice must not double-count
    trainer.run([1.0, 2.0, 6.0], max_epochs=4)
    # mean of the first item's loss over the 3 iterations of each epoch (the 99 of the second item is ignored)
    assert plotter.loss == [(1, 3.0), (2, 3.0), (3, 3.0), (4, 3.0)]
    # the plain ignite validator restarts at epoch 1: the trainer's epoch is used
    assert plotter.val_metrics["dice"] == [(2, pytest.approx(0.2)), (4, pytest.approx(0.4))]
    assert set(plotter.val_metrics) == {"dice", "dice_TC", "hd95"}
    with Image.open(tmp_path / "curves" / "training.png") as image:
        assert image.format == "PNG" and image.size[0] >= 800
    assert not list((tmp_path / "curves").glob(".*.tmp"))


def test_png_is_rewritten_after_each_round(tmp_path):
    trainer, validator = make_engines()
    plotter = TrainingCurvesPlotter(tmp_path / "c.png", validator=validator)
    plotter.attach(trainer)
    writes = []
    original = plotter.write
    plotter.write = lambda: writes.append(trainer.state.epoch) or original()
    trainer.run([1.0], max_epochs=2)
    # per epoch: once after the validation round (run inside the epoch end) and once at the end of the epoch
    assert writes == [1, 1, 2, 2]


def test_without_validator_and_trainer_metrics(tmp_path):
    trainer, _ = make_engines(validate_every=100)

    @trainer.on(Events.EPOCH_COMPLETED)
    def _train_metric(engine):
        engine.state.metrics["train_dice"] = torch.tensor(0.5)

    plotter = TrainingCurvesPlotter(tmp_path / "c.png", loss_yscale="log")
    plotter.attach(trainer)
    trainer.run([2.0], max_epochs=2)
    assert plotter.loss == [(1, 2.0), (2, 2.0)]
    assert plotter.val_metrics == {}
    assert plotter.train_metrics["train_dice"][-1][1] == 0.5  # recorded at the first epoch end after it is set
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_state_dict_round_trip(tmp_path):
    trainer, validator = make_engines()
    plotter = TrainingCurvesPlotter(tmp_path / "c.png", validator=validator)
    plotter.attach(trainer)
    trainer.run([1.0], max_epochs=2)
    restored = TrainingCurvesPlotter(tmp_path / "d.png")
    restored.load_state_dict(plotter.state_dict())
    assert restored.loss == plotter.loss and restored.val_metrics == plotter.val_metrics
    restored.write()
    assert (tmp_path / "d.png").exists()
    with pytest.raises(ValueError, match="missing entries"):
        restored.load_state_dict({"loss": []})


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=".png"):
        TrainingCurvesPlotter(tmp_path / "curves.jpg")
    with pytest.raises(ValueError, match="ignite Engine"):
        TrainingCurvesPlotter(tmp_path / "c.png", validator="@validate#evaluator")
    with pytest.raises(ValueError, match="loss_yscale"):
        TrainingCurvesPlotter(tmp_path / "c.png", loss_yscale="symlog")
