"""MONAI's ``CheckpointSaver`` with writes that a killed process cannot leave half done.

MONAI 1.6 writes checkpoints in place (``DiskSaver(atomic=False)``), and Ignite removes the file a new checkpoint
replaces BEFORE writing the new one. A training killed (``kill -9``, an out-of-memory kill, a job time limit) while it
saves is left with a truncated ``checkpoint_*.pt`` and no older one to resume from, or with a truncated, or no,
``models/model.pt``. This saver writes every file to a temporary file in the same folder and renames it (readable by
group and others, as MONAI intends), and removes superseded files only after their replacement is complete.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import ignite.distributed as idist
import torch
from ignite.handlers import DiskSaver
from monai.handlers import CheckpointSaver

from mamba_monai.utils.atomic_files import atomic_destination

__all__ = ["AtomicCheckpointSaver", "AtomicDiskSaver"]


class AtomicDiskSaver(DiskSaver):
    """Ignite save handler: writes atomically, and removes a superseded file only after the next save completed.

    Args:
        dirname: folder of the files.
        filename: a fixed file name for every save (MONAI's ``key_metric_filename`` / ``final_filename``), or
            ``None`` for Ignite's names.
    """

    def __init__(self, dirname: str | os.PathLike, filename: str | None = None) -> None:
        super().__init__(dirname=dirname, require_empty=False, atomic=True)
        self.filename = filename
        self._superseded: list[str] = []

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        filename = self.filename or filename
        if self.save_on_rank == idist.get_rank():
            with atomic_destination(Path(self.dirname) / filename) as temporary:
                torch.save(checkpoint, temporary, **self.kwargs)
            for old in self._superseded:
                if old != filename:
                    (Path(self.dirname) / old).unlink(missing_ok=True)
        self._superseded = []

    def remove(self, filename: str) -> None:
        """Remember ``filename`` for removal once the save that replaces it has completed."""
        self._superseded.append(self.filename or filename)


class AtomicCheckpointSaver(CheckpointSaver):
    """:class:`monai.handlers.CheckpointSaver` (same arguments) whose files are written atomically and whose
    superseded files are removed only after their replacement is written, so a training killed while saving keeps a
    complete checkpoint to resume from and a complete best model (see the module docstring).

    Example (train.json)::

        {"_target_": "mamba_monai.engines.AtomicCheckpointSaver", "save_dir": "@ckpt_dir",
         "save_dict": "@checkpoint_dict", "save_interval": 1, "n_saved": 1}
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for checkpoint in (self._final_checkpoint, self._key_metric_checkpoint, self._interval_checkpoint):
            if checkpoint is not None:
                checkpoint.save_handler = AtomicDiskSaver(
                    self.save_dir, getattr(checkpoint.save_handler, "filename", None)
                )
