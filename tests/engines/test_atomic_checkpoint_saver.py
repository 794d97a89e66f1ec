"""AtomicCheckpointSaver: a save that dies half-way leaves the previous checkpoint and best model complete."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine, Events

import mamba_monai.engines.atomic_checkpoint_saver as saver_module
from mamba_monai.engines import AtomicCheckpointSaver


class Killed(RuntimeError):
    pass


def _training(tmp_path, saver_class, epochs):
    network = torch.nn.Linear(3, 2)
    engine = Engine(lambda engine, batch: None)
    engine.state.metrics = {}
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: e.state.metrics.update(acc=float(e.state.epoch)))
    saver = saver_class(
        save_dir=str(tmp_path), save_dict={"model": network}, save_interval=1, n_saved=1, file_prefix="checkpoint",
        save_key_metric=True, key_metric_name="acc", key_metric_filename="model.pt",
    )  # fmt: skip
    saver.attach(engine)
    return engine, network


def _dying_save(real_save):
    def save(obj, target, *args, **kwargs):
        with open(target, "wb") as stream:
            stream.write(b"half a checkpoint")
        raise Killed("killed while saving")

    return save


def test_a_save_killed_half_way_keeps_the_previous_files_complete(tmp_path, monkeypatch):
    engine, network = _training(tmp_path, AtomicCheckpointSaver, epochs=2)
    engine.run([0], max_epochs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_model_epoch=1.pt", "model.pt"]
    monkeypatch.setattr(saver_module.torch, "save", _dying_save(torch.save))
    with pytest.raises(Killed):
        engine.run([0], max_epochs=2)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_model_epoch=1.pt", "model.pt"]
    for name in ("checkpoint_model_epoch=1.pt", "model.pt"):
        state = torch.load(tmp_path / name, map_location="cpu", weights_only=True)
        torch.testing.assert_close(state["weight"], network.weight)


def test_old_checkpoints_are_pruned_after_the_new_one_is_written(tmp_path):
    engine, _ = _training(tmp_path, AtomicCheckpointSaver, epochs=3)
    engine.run([0], max_epochs=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_model_epoch=3.pt", "model.pt"]
    assert oct((tmp_path / "model.pt").stat().st_mode & 0o777) == oct(0o644)
