"""The line a training run ends with: what was trained, and where the best model is - only if there is one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["training_report"]


def training_report(
    title: str, trainer: Any, evaluator: Any, ckpt_dir: str | os.PathLike, output_dir: str | os.PathLike
) -> str:
    """Print (and return) the end-of-training summary of a bundle.

    It names the best model only when a validation of this run chose it; when no validation ran (``val_interval``
    longer than the run), it says so, and says whether an older ``model.pt`` is still there.

    Args:
        title: e.g. ``"SegMamba training"``.
        trainer: the bundle's trainer (its ``state.epoch``).
        evaluator: the validation evaluator (its ``state.iteration``, ``best_metric``, ``best_metric_epoch``).
        ckpt_dir: the bundle's ``models/`` folder.
        output_dir: where curves and logs went.
    """
    model = Path(ckpt_dir).resolve() / "model.pt"
    state = evaluator.state
    line = f"{title} done after {trainer.state.epoch} epoch(s)."
    if getattr(state, "iteration", 0) > 0:
        metric = getattr(state, "key_metric_name", None) or "key metric"
        best, epoch = getattr(state, "best_metric", None), getattr(state, "best_metric_epoch", None)
        line += f" Best model (validation {metric} {best:.4f} after epoch {epoch}): {model}"
    elif model.is_file():
        line += f" No validation ran, so this run chose no best model; {model} is from an earlier run."
    else:
        line += " No validation ran, so no best model was saved (lower val_interval)."
    line += f"; curves and logs: {Path(output_dir).resolve()}"
    print(line)
    return line
