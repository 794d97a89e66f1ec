"""The line a bundle run ends with: what ran, on how much, its figures and where its outputs are (for training: where the
best model is - only if there is one)."""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["run_report", "training_report"]


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


def run_report(
    title: str,
    output_dir: str | os.PathLike,
    outputs: Sequence[str] = (),
    count: int | None = None,
    unit: str = "images",
    metrics: Mapping[str, Any] | None = None,
) -> str:
    """Print (and return) the line an evaluation, inference or explanation run of a bundle ends with.

    Example (bundle config, ``finalize``)::

        {"_target_": "mamba_monai.bundle.run_report", "title": "SegMamba evaluation", "output_dir": "@output_dir",
         "outputs": ["metrics_per_case.csv", "metrics_summary.json"]}

    Args:
        title: what ran, e.g. ``"SegMamba evaluation"``.
        output_dir: the folder the run wrote into (printed as an absolute path).
        outputs: the files or folders (``"overlays/"``) in ``output_dir`` worth naming; one that is not there is
            marked ``(missing)``, so the line never claims a file the run did not write.
        count: how many items ran (e.g. ``len(@datalist)``).
        unit: what ``count`` counts.
        metrics: figures to print, e.g. the evaluator's ``state.metrics`` (numbers get 4 decimals).
    """
    folder = Path(output_dir).resolve()
    line = f"{title} done" + (f" on {count} {unit}" if count is not None else "")
    figures = [
        f"{name} {value:.4f}" if isinstance(value, float) else f"{name} {value}"
        for name, value in (metrics or {}).items()
    ]
    if figures:
        line += ": " + ", ".join(figures)
    named = [name if (folder / name.rstrip("/")).exists() else f"{name} (missing)" for name in outputs]
    line += f"; outputs in {folder}" + (": " + ", ".join(named) if named else "")
    print(line)
    return line
