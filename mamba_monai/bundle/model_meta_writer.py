"""Ignite handler that writes ``models/model_meta.json`` beside the best model, when the model is saved."""

from __future__ import annotations

import os
from typing import Any

from ignite.engine import Engine, Events

from mamba_monai.utils.model_meta import write_model_meta

__all__ = ["ModelMetaWriter"]


class ModelMetaWriter:
    """After each validation (placed after the best-model saver), write what inference needs beside the weights.

    Written when a model is saved rather than when training starts, so a run that fails before its first validation
    leaves the ``model_meta.json`` of the previous ``model.pt`` untouched.

    Args:
        ckpt_dir: the bundle's ``models/`` folder.
        values: the values to store (the bundle's ``trained_model_meta``).
    """

    def __init__(self, ckpt_dir: str | os.PathLike, values: dict[str, Any]) -> None:
        self.ckpt_dir = ckpt_dir
        self.values = {key: value for key, value in values.items() if not str(key).startswith("_")}

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        write_model_meta(self.ckpt_dir, self.values)
