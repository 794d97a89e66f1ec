"""Resuming never regresses models/model.pt and prunes the checkpoint it resumed from."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ignite.engine import Engine, Events
from monai.handlers import CheckpointLoader, CheckpointSaver

from mamba_monai.engines import SaverRecord, checkpoint_handlers, resume_handlers


def _evaluate(network: torch.nn.Linear, saver: CheckpointSaver, score: float, weight: float) -> None:
    """One validation that scores ``score`` with the network's weight set to ``weight``."""
    with torch.no_grad():
        network.weight.fill_(weight)
    evaluator = Engine(lambda engine, batch: None)
    evaluator.add_event_handler(Events.EPOCH_COMPLETED, lambda e: e.state.metrics.update(acc=score))
    saver.attach(evaluator)
    evaluator.run([0], max_epochs=1)


def _best_saver(folder: Path, network) -> CheckpointSaver:
    return CheckpointSaver(
        save_dir=str(folder), save_dict={"model": network}, save_key_metric=True, key_metric_name="acc",
        key_metric_filename="model.pt",
    )  # fmt: skip


def _saved_weight(folder: Path) -> float:
    return float(torch.load(folder / "model.pt", weights_only=True)["weight"].flatten()[0])


@pytest.mark.parametrize("restore_record", [True, False])
def test_a_worse_validation_after_resume_keeps_the_better_model(tmp_path, restore_record):
    network = torch.nn.Linear(1, 1, bias=False)
    first = _best_saver(tmp_path, network)
    _evaluate(network, first, score=0.33, weight=1.0)
    record = SaverRecord(first).state_dict()  # what the periodic checkpoint carries

    resumed = _best_saver(tmp_path, network)  # a new process: a fresh saver
    if restore_record:
        SaverRecord(resumed).load_state_dict(record)
    _evaluate(network, resumed, score=0.25, weight=2.0)
    if restore_record:
        assert _saved_weight(tmp_path) == 1.0, "a worse validation after resume replaced the best model"
        _evaluate(network, resumed, score=0.5, weight=3.0)
        assert _saved_weight(tmp_path) == 3.0, "a better validation after resume must still be saved"
    else:  # what happened before the record was kept: the regression this guards against
        assert _saved_weight(tmp_path) == 2.0


def test_saver_record_needs_a_key_metric_saver(tmp_path):
    with pytest.raises(ValueError, match="save_key_metric=True"):
        SaverRecord(CheckpointSaver(save_dir=str(tmp_path), save_dict={"m": torch.nn.Linear(1, 1)}, save_interval=1))


@pytest.mark.parametrize("resume", [False, "false", "False", "0", "no"])
def test_resume_off_in_every_spelling(tmp_path, resume):
    (tmp_path / "checkpoint_epoch=3.pt").write_bytes(b"")
    assert resume_handlers(resume, tmp_path, {}, "cpu") == []


def test_resume_on_without_checkpoint_starts_fresh(tmp_path):
    assert resume_handlers("true", tmp_path, {}, "cpu") == []


def test_resume_refuses_an_unknown_spelling(tmp_path):
    with pytest.raises(ValueError, match="option 'resume'"):
        resume_handlers("maybe", tmp_path, {}, "cpu")


def test_resume_loads_the_newest_and_the_saver_prunes_it(tmp_path):
    network = torch.nn.Linear(1, 1, bias=False)
    trainer = Engine(lambda engine, batch: None)
    for epoch in (2, 3):
        trainer_state = {"epoch": epoch, "epoch_length": 1, "max_epochs": 4}
        torch.save(
            {"model": network.state_dict(), "trainer": trainer_state},
            tmp_path / f"checkpoint_checkpoint_epoch={epoch}.pt",
        )
    (tmp_path / "checkpoint_checkpoint_epoch=2.pt").unlink()  # a run with n_saved=1 leaves only its last file
    periodic = CheckpointSaver(
        save_dir=str(tmp_path), save_dict={"model": network, "trainer": trainer}, save_interval=1, n_saved=1,
        epoch_level=True, file_prefix="checkpoint",
    )  # fmt: skip
    handlers = resume_handlers("yes", tmp_path, {"model": network, "trainer": trainer}, "cpu", periodic)
    assert len(handlers) == 2 and isinstance(handlers[0], CheckpointLoader)
    assert handlers[0].load_path.endswith("checkpoint_checkpoint_epoch=3.pt")
    for handler in handlers + [periodic]:
        handler.attach(trainer)
    trainer.run([0], max_epochs=4)
    assert sorted(p.name for p in tmp_path.glob("checkpoint*.pt")) == ["checkpoint_checkpoint_epoch=4.pt"]


def _periodic(folder: Path, network) -> CheckpointSaver:
    return CheckpointSaver(
        save_dir=str(folder), save_dict={"model": network}, save_interval=1, file_prefix="checkpoint"
    )


@pytest.mark.parametrize("save", [True, False])
def test_checkpoint_handlers_order_and_rank(tmp_path, save):
    network = torch.nn.Linear(1, 1)
    torch.save({"model": network.state_dict()}, tmp_path / "checkpoint_checkpoint_epoch=2.pt")
    periodic, final = _periodic(tmp_path, network), object()
    handlers = checkpoint_handlers("true", tmp_path, {"model": network}, periodic, final_savers=[final], save=save)
    assert isinstance(handlers[0], CheckpointLoader)
    assert handlers[2:] == ([periodic, final] if save else []), "non-saving ranks must attach no saver"


def test_checkpoint_handlers_without_resume_only_save(tmp_path):
    network = torch.nn.Linear(1, 1)
    torch.save({"model": network.state_dict()}, tmp_path / "checkpoint_checkpoint_epoch=2.pt")
    periodic = _periodic(tmp_path, network)
    assert checkpoint_handlers("false", tmp_path, {"model": network}, periodic) == [periodic]


def test_a_model_saved_after_the_last_checkpoint_still_has_to_be_beaten(tmp_path):
    """Killed between saving model.pt (0.33, noted in model_meta.json) and the periodic checkpoint (whose record says
    0.25): the resumed run must not replace model.pt with a 0.30."""
    from mamba_monai.bundle import ModelMetaWriter

    network = torch.nn.Linear(1, 1, bias=False)
    first = _best_saver(tmp_path, network)
    _evaluate(network, first, score=0.25, weight=1.0)
    stale_record = SaverRecord(first).state_dict()  # what the last periodic checkpoint holds
    _evaluate(network, first, score=0.33, weight=2.0)  # model.pt improves, then the process dies
    ModelMetaWriter(tmp_path, {}, saver=first)(None)

    resumed = _best_saver(tmp_path, network)
    trainer = Engine(lambda engine, batch: None)
    load = {"model": network, "best_model_record": SaverRecord(resumed)}
    checkpoint = {"model": network.state_dict(), "best_model_record": stale_record}
    torch.save(checkpoint, tmp_path / "checkpoint_checkpoint_epoch=1.pt")
    for handler in resume_handlers("true", tmp_path, load, "cpu"):
        handler.attach(trainer)
    trainer.run([0], max_epochs=1)
    _evaluate(network, resumed, score=0.30, weight=3.0)
    assert _saved_weight(tmp_path) == 2.0, "a resumed run replaced a better model.pt saved after its checkpoint"
