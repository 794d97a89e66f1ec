"""Resuming training so that nothing that decides what is saved is forgotten.

A bundle resumes from the newest periodic checkpoint (``checkpoint*.pt``). Besides the model, optimiser, scheduler and
trainer, the checkpoint carries the best-model saver's record (:class:`SaverRecord`): without it, the first validation
after a resume would replace a better ``models/model.pt`` with a worse one. The periodic saver is told about the file it
resumed from, so that file is pruned like the others (``n_saved``) instead of being left behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Sequence
from typing import Any

from ignite.engine import Events
from monai.handlers import CheckpointLoader, CheckpointSaver

from mamba_monai.engines.checkpoints import _EPOCH, latest_checkpoint
from mamba_monai.utils.options import as_bool

__all__ = ["SaverRecord", "checkpoint_handlers", "resume_handlers"]


class SaverRecord:
    """The record of a key-metric :class:`~monai.handlers.CheckpointSaver` (the best scores and their files) as an
    object with ``state_dict`` / ``load_state_dict``, so that it can go into a training checkpoint's ``save_dict``.

    Args:
        saver: the saver that writes the best model (``save_key_metric=True``).
    """

    def __init__(self, saver: CheckpointSaver) -> None:
        if getattr(saver, "_key_metric_checkpoint", None) is None:
            raise ValueError("SaverRecord needs a CheckpointSaver with save_key_metric=True")
        self.saver = saver

    def state_dict(self) -> dict[str, Any]:
        return self.saver._key_metric_checkpoint.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.saver._key_metric_checkpoint.load_state_dict(state_dict)


def resume_handlers(
    resume: Any,
    ckpt_dir: str | os.PathLike,
    load_dict: dict,
    device: Any = "cpu",
    periodic_saver: CheckpointSaver | None = None,
    prefix: str = "checkpoint",
) -> list:
    """The handler that resumes training, when asked to and a checkpoint exists (an empty list otherwise).

    Args:
        resume: the bundle's ``resume`` option (``true``/``false`` in any spelling users type).
        ckpt_dir: folder of the periodic checkpoints.
        load_dict: what to restore (the training checkpoint's ``save_dict``).
        device: ``map_location`` for loading.
        periodic_saver: the saver of the periodic checkpoints; told about the file resumed from so it prunes it.
        prefix: file name prefix of the periodic checkpoints.
    """
    if not as_bool(resume, "resume"):
        return []
    path = latest_checkpoint(ckpt_dir, prefix)
    if path is None:
        return []
    if periodic_saver is not None and getattr(periodic_saver, "_interval_checkpoint", None) is not None:
        record = periodic_saver._interval_checkpoint
        state = record.state_dict()
        state["_saved"] = [(_epoch_of(path), Path(path).name)]
        record.load_state_dict(state)
    loader = CheckpointLoader(load_path=path, load_dict=load_dict, map_location=device)
    return [loader, _RecordFromModelMeta(ckpt_dir, load_dict)]


class _RecordFromModelMeta:
    """After the checkpoint is loaded: if ``model_meta.json`` holds a better score for ``model.pt`` than the restored
    record (the run died after saving the model, before its periodic checkpoint), the record takes that score, so the
    resumed run must beat the model actually on disk."""

    def __init__(self, ckpt_dir: str | os.PathLike, load_dict: dict) -> None:
        self.ckpt_dir = ckpt_dir
        self.records = [value for value in load_dict.values() if isinstance(value, SaverRecord)]

    def attach(self, engine: Any) -> None:
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Any) -> None:
        from mamba_monai.utils.model_meta import read_model_meta

        score = read_model_meta(self.ckpt_dir).get("best_model_score")
        if score is None or not (Path(self.ckpt_dir) / "model.pt").is_file():
            return
        for record in self.records:
            checkpoint = record.saver._key_metric_checkpoint
            saved = list(checkpoint._saved)
            if not saved or max(item.priority for item in saved) < score:
                name = saved[-1].filename if saved else "model.pt"
                checkpoint._saved = [type(checkpoint).Item(float(score), name)]


def _epoch_of(path: str) -> int:
    match = _EPOCH.search(Path(path).name)
    return int(match.group(1)) if match else 0


def checkpoint_handlers(
    resume: Any,
    ckpt_dir: str | os.PathLike,
    load_dict: dict,
    saver: CheckpointSaver,
    device: Any = "cpu",
    prefix: str = "checkpoint",
    final_savers: Sequence[Any] = (),
    save: bool = True,
) -> list:
    """The training checkpoint handlers of a bundle, in the order they attach: the resume loader (when ``resume`` asks
    for it and a checkpoint exists, see :func:`resume_handlers`), then the periodic ``saver`` and ``final_savers``
    (only where ``save`` is true: rank 0 of a multi-GPU run).

    Example (bundle config)::

        "checkpoint_handlers": {"_target_": "mamba_monai.engines.checkpoint_handlers", "resume": "@resume",
            "ckpt_dir": "@ckpt_dir", "load_dict": "@checkpoint_dict", "saver": "@train#checkpoint_saver",
            "device": "@device", "save": "$dist.get_rank() == 0"}

    Args:
        resume: the bundle's ``resume`` option (``true``/``false`` in any spelling users type).
        ckpt_dir: folder of the periodic checkpoints.
        load_dict: what to restore (the training checkpoint's ``save_dict``).
        saver: the saver of the periodic checkpoints.
        device: ``map_location`` for loading.
        prefix: file name prefix of the periodic checkpoints.
        final_savers: further savers attached after ``saver`` (e.g. a final-model saver).
        save: whether this process saves (false on the non-zero ranks of a distributed run).
    """
    handlers = resume_handlers(resume, ckpt_dir, load_dict, device, saver, prefix)
    return handlers + ([saver, *final_savers] if save else [])
