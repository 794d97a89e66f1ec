"""Finding the checkpoint to resume from."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["latest_checkpoint"]

_EPOCH = re.compile(r"epoch=(\d+)")


def latest_checkpoint(ckpt_dir: str | os.PathLike, prefix: str = "checkpoint") -> str | None:
    """Path of the newest ``<prefix>*.pt`` in ``ckpt_dir`` (highest ``epoch=N`` in its name, else newest file), or None.

    The bundles save them with :class:`~mamba_monai.engines.AtomicCheckpointSaver` (``file_prefix="checkpoint"``,
    ``save_interval=1``), which writes atomically and removes an old file only after its replacement is complete, so
    a file found here is complete even after a ``kill -9`` while saving (MONAI's own ``CheckpointSaver`` writes in
    place).

    Args:
        ckpt_dir: folder of the checkpoints.
        prefix: file name prefix of the checkpoints.
    """
    folder = Path(ckpt_dir)
    if not folder.is_dir():
        return None
    files = [p for p in folder.glob(f"{prefix}*.pt") if p.is_file()]
    if not files:
        return None

    def order(path: Path):
        match = _EPOCH.search(path.name)
        return (int(match.group(1)) if match else -1, path.stat().st_mtime)

    return str(max(files, key=order))
