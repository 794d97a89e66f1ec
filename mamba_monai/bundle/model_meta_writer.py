"""Ignite handler that writes ``models/model_meta.json`` beside the best model, when the model is saved."""

from __future__ import annotations

import os
from typing import Any

from ignite.engine import Engine, Events

from mamba_monai.utils.model_meta import write_model_meta

__all__ = ["BEST_MODEL_SCORE", "ModelMetaWriter"]

BEST_MODEL_SCORE = "best_model_score"


class ModelMetaWriter:
    """After each validation (placed after the best-model saver), write what inference needs beside the weights.

    Written when a model is saved rather than when training starts, so a run that fails before its first validation
    leaves the ``model_meta.json`` of the previous ``model.pt`` untouched.

    With ``saver`` (the best-model saver), the score of the saved ``model.pt`` is stored too (``best_model_score``):
    it is what a resumed run must beat, even when the run died after saving the model and before its periodic
    checkpoint recorded it (see :func:`mamba_monai.engines.resume_handlers`).

    Args:
        ckpt_dir: the bundle's ``models/`` folder.
        values: the values to store (the bundle's ``trained_model_meta``).
        saver: the key-metric ``CheckpointSaver`` that writes ``model.pt``.
    """

    def __init__(self, ckpt_dir: str | os.PathLike, values: dict[str, Any], saver: Any = None) -> None:
        self.ckpt_dir = ckpt_dir
        self.values = {key: value for key, value in values.items() if not str(key).startswith("_")}
        self.saver = saver

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        values = dict(self.values)
        record = getattr(self.saver, "_key_metric_checkpoint", None)
        saved = list(getattr(record, "_saved", []) or [])
        if saved:
            values[BEST_MODEL_SCORE] = float(max(item.priority for item in saved))
        write_model_meta(self.ckpt_dir, values)
