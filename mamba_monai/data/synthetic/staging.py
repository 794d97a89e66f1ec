"""Synthetic data sets appear whole or not at all: written into a hidden sibling folder, then moved in.

A run killed while generating leaves the data folder as it was (empty: the next run generates again). A run killed
while moving the finished files in leaves a marker (``.synthetic_incomplete``), and the next run refuses the folder
with the fix instead of training on part of the set.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["INCOMPLETE_MARKER", "check_not_interrupted", "write_staged"]

INCOMPLETE_MARKER = ".synthetic_incomplete"


def check_not_interrupted(dataset_dir: str | os.PathLike) -> None:
    """Refuse a data folder whose synthetic set was interrupted while it was being moved in.

    Args:
        dataset_dir: the data folder.

    Raises:
        ValueError: the marker is there (the message names the folder and the fix).
    """
    folder = Path(dataset_dir)
    if (folder / INCOMPLETE_MARKER).exists():
        raise ValueError(
            f"'{folder}' holds a synthetic data set whose writing was interrupted (marker {INCOMPLETE_MARKER}): it is "
            "incomplete. Delete the folder (it was empty before the synthetic data were written) and run again."
        )


def write_staged(dataset_dir: str | os.PathLike, write: Callable[..., Any], **kwargs) -> Any:
    """Run ``write(stage_folder, **kwargs)`` in a hidden sibling folder, then move what it wrote into ``dataset_dir``.

    Args:
        dataset_dir: the data folder (created when missing; expected to hold no data).
        write: a synthetic-data writer taking the output folder first.
        kwargs: passed to ``write``.

    Returns:
        what ``write`` returned, with paths inside the stage folder mapped into ``dataset_dir``.
    """
    folder = Path(dataset_dir)
    folder.mkdir(parents=True, exist_ok=True)
    check_not_interrupted(folder)
    stage = Path(tempfile.mkdtemp(prefix=f".{folder.name}.synthetic-", dir=folder.parent))
    marker = folder / INCOMPLETE_MARKER
    try:
        result = write(stage, **kwargs)
        marker.touch()
        for entry in sorted(stage.iterdir()):
            entry.rename(folder / entry.name)
        marker.unlink()
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    if isinstance(result, (str, os.PathLike)) and Path(result).is_relative_to(stage):
        return (
            type(result)(folder / Path(result).relative_to(stage))
            if isinstance(result, Path)
            else str(folder / Path(result).relative_to(stage))
        )
    return result
