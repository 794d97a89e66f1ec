"""Classification report of an evaluation round: ``report.json``, ``per_class_report.csv`` and ``confusion_matrix.png``.

MONAI's classification handlers (``ROCAUC``, ``ConfusionMatrix``) each give one number per round; a model card needs
the whole picture: per-class precision, recall, F1, specificity and AUC, their averages, and the confusion matrix as
a table and as a picture. This handler collects each image's class probabilities and label over the round and writes
the three files (atomically) at its end, from :func:`mamba_monai.metrics.classification.classification_report`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ignite.distributed as idist
import numpy as np
import torch
from ignite.engine import Engine
from matplotlib.figure import Figure
from monai.data import decollate_batch
from monai.utils import evenly_divisible_all_gather

from mamba_monai.utils.atomic_files import save_figure_atomically, write_text_atomically
from mamba_monai.metrics.classification import classification_report, scores_to_probabilities, to_jsonable
from mamba_monai.engines.handlers.round_writer import RoundWriter

__all__ = ["ClassificationReportWriter", "confusion_matrix_figure", "iteration_items"]


def iteration_items(engine: Engine) -> list[tuple[Mapping, Mapping]]:
    """The images of the engine's current iteration as ``(output item, batch item)`` pairs of dicts.

    MONAI's workflows decollate by default (``engine.state.output`` and ``engine.state.batch`` are lists with one
    dict per image); with ``decollate=False`` they are batch-first dicts, decollated here. A missing batch (or one
    that is not a dict) gives empty batch items.

    Args:
        engine: a MONAI workflow (e.g. ``SupervisedEvaluator``) during an iteration.
    """

    def per_image(data: Any) -> list[Mapping]:
        if isinstance(data, Mapping):
            return list(decollate_batch(data, detach=True))
        if isinstance(data, (list, tuple)) and all(isinstance(item, Mapping) for item in data):
            return list(data)
        return []

    outputs = per_image(engine.state.output)
    batch = per_image(engine.state.batch)
    if len(batch) != len(outputs):
        batch = [{}] * len(outputs)
    return list(zip(outputs, batch))


def item_value(key: str, output: Mapping, batch: Mapping) -> Any:
    """``output[key]``, else ``batch[key]``, else ``None``."""
    if key in output:
        return output[key]
    return batch.get(key)


def _label_index(label: Any, num_classes: int, key: str) -> int:
    """A class index from a label: an int, a one-element tensor/array, or a one-hot vector of ``num_classes``."""
    values = label.detach().cpu().numpy() if isinstance(label, torch.Tensor) else np.asarray(label)
    values = values.reshape(-1)
    if values.size == 1:
        return int(round(float(values[0])))
    if values.size == num_classes:
        return int(values.argmax())
    raise ValueError(
        f"ClassificationReportWriter: '{key}' of one image must be a class index or a one-hot vector of "
        f"{num_classes} classes, got shape {tuple(label.shape) if hasattr(label, 'shape') else type(label).__name__}"
    )


def confusion_matrix_figure(counts: Sequence[Sequence[int]] | np.ndarray, class_names: Sequence[str]) -> Figure:
    """Two panels: the confusion matrix as counts, and row-normalised (the fraction of each true class predicted as
    each class, i.e. the recalls on the diagonal); rows are true classes, columns predicted classes.

    Args:
        counts: ``(C, C)`` counts, rows = true class.
        class_names: the C class names, for the axes.
    """
    counts = np.asarray(counts, dtype=np.int64)
    num_classes = len(class_names)
    if counts.shape != (num_classes, num_classes):
        raise ValueError(
            f"confusion_matrix_figure: counts must be ({num_classes}, {num_classes}) for the class names "
            f"{list(class_names)}, got shape {counts.shape}"
        )
    row_sums = counts.sum(axis=1, keepdims=True)
    fractions = np.divide(counts, row_sums, out=np.zeros(counts.shape), where=row_sums > 0)
    side = min(4.0 + 0.45 * num_classes, 16.0)
    figure = Figure(figsize=(2 * side + 1.5, side), layout="constrained")
    axes = figure.subplots(1, 2)
    font = max(5.0, min(10.0, 90.0 / num_classes))
    panels = (
        (axes[0], counts, "counts", lambda v: f"{int(v)}", counts.max(initial=0) or 1),
        (axes[1], fractions, "normalised by true class (row)", lambda v: f"{v:.2f}", 1.0),
    )
    for ax, values, title, text, vmax in panels:
        image = ax.imshow(values, cmap="Blues", vmin=0, vmax=vmax, interpolation="nearest")
        figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        for i in range(num_classes):
            for j in range(num_classes):
                colour = "white" if values[i, j] > 0.6 * vmax else "black"
                ax.text(j, i, text(values[i, j]), ha="center", va="center", color=colour, fontsize=font)
        ax.set_xticks(range(num_classes), labels=list(class_names), rotation=45, ha="right", fontsize=font)
        ax.set_yticks(range(num_classes), labels=list(class_names), fontsize=font)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(title)
    total = int(counts.sum())
    accuracy = np.trace(counts) / total if total else float("nan")
    figure.suptitle(f"confusion matrix: {total} images, accuracy {accuracy:.3f}")
    return figure


class ClassificationReportWriter(RoundWriter):
    """Ignite handler for a classification evaluator: collects each image's class probabilities and label over a
    round and writes, at the end of the round, into ``output_dir``:

    - ``report.json``: :func:`~mamba_monai.metrics.classification.classification_report` (accuracy; macro and
      weighted precision, recall, F1, specificity, AUC; per-class values; confusion matrix; notes), with NaN written
      as ``null``;
    - ``per_class_report.csv``: one row per class: ``class, precision, recall, f1, specificity, support, auc``;
    - ``confusion_matrix.png``: counts and row-normalised matrix, class names on the axes.

    Files are written atomically (a reader sees the previous or the new version, never half a file) and rewritten
    after each round (so, as a validation handler, they describe the latest round).

    Predictions are read from ``engine.state.output[i][pred_key]`` (``(C,)`` per image: logits or probabilities),
    labels from ``label_key`` in the output, else in the batch (a class index or a one-hot vector). Works with
    MONAI's decollated outputs (the default) and with batch-first outputs (``decollate=False``), any batch size.
    Place it after post-processing that keeps probabilities: if ``pred`` is made one-hot by ``AsDiscreted`` before
    this handler runs, copy the probabilities to another key first (``CopyItemsd``) and set ``pred_key`` to it; a
    warning says so when all predictions look one-hot. In distributed evaluation the values of all ranks are
    gathered and ``save_rank`` writes.

    Example (bundle config, ``validate#handlers`` or evaluate.json)::

        {"_target_": "mamba_monai.engines.handlers.ClassificationReportWriter",
         "output_dir": "$@output_dir + '/report'", "class_names": "@class_names"}

    Args:
        output_dir: folder of the three files (created if needed).
        class_names: one name per network output, in output order.
        pred_key: key of the per-image network output.
        label_key: key of the per-image label.
        activation: ``"auto"`` (softmax unless the outputs already are probabilities), ``"softmax"`` or ``"none"``;
            see :func:`~mamba_monai.metrics.classification.scores_to_probabilities`.
        report_name: file name of the JSON report.
        csv_name: file name of the per-class table.
        figure_name: file name of the confusion-matrix PNG.
        dpi: resolution of the PNG.
        save_rank: in distributed evaluation, the rank that writes the files.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        class_names: Sequence[str],
        pred_key: str = "pred",
        label_key: str = "label",
        activation: str = "auto",
        report_name: str = "report.json",
        csv_name: str = "per_class_report.csv",
        figure_name: str = "confusion_matrix.png",
        dpi: int = 100,
        save_rank: int = 0,
    ) -> None:
        if isinstance(class_names, str) or len(class_names) < 2:
            raise ValueError(f"ClassificationReportWriter: class_names needs at least two names, got {class_names!r}")
        if len(set(map(str, class_names))) != len(class_names):
            raise ValueError(f"ClassificationReportWriter: class_names must be unique, got {list(class_names)}")
        if activation not in ("auto", "softmax", "none"):
            raise ValueError(
                f"ClassificationReportWriter: activation must be 'auto', 'softmax' or 'none', got {activation!r}"
            )
        for what, name in (("report_name", report_name), ("csv_name", csv_name), ("figure_name", figure_name)):
            if not name or os.path.basename(name) != name:
                raise ValueError(f"ClassificationReportWriter: {what} must be a plain file name, got {name!r}")
        self.output_dir = Path(output_dir)
        self.class_names = [str(name) for name in class_names]
        self.pred_key = pred_key
        self.label_key = label_key
        self.activation = activation
        self.report_name, self.csv_name, self.figure_name = report_name, csv_name, figure_name
        self.dpi = dpi
        self.save_rank = save_rank
        self._scores: list[np.ndarray] = []
        self._labels: list[int] = []
        self.report: dict[str, Any] | None = None

    def reset(self, engine: Engine) -> None:
        self._scores, self._labels = [], []

    def collect(self, engine: Engine) -> None:
        num_classes = len(self.class_names)
        for output, batch in iteration_items(engine):
            pred = item_value(self.pred_key, output, batch)
            label = item_value(self.label_key, output, batch)
            if pred is None or label is None:
                missing = self.pred_key if pred is None else self.label_key
                raise ValueError(
                    f"ClassificationReportWriter: key '{missing}' is neither in engine.state.output nor in "
                    f"engine.state.batch (keys: {sorted(output)}); set pred_key / label_key"
                )
            scores = pred.detach().cpu().double().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred, float)
            scores = scores.reshape(-1)
            if scores.size != num_classes:
                raise ValueError(
                    f"ClassificationReportWriter: '{self.pred_key}' of one image has {scores.size} values but there "
                    f"are {num_classes} class names {self.class_names}"
                )
            self._scores.append(scores)
            self._labels.append(_label_index(label, num_classes, self.label_key))

    def _gathered(self) -> tuple[np.ndarray, np.ndarray]:
        num_classes = len(self.class_names)
        scores = torch.as_tensor(np.asarray(self._scores, dtype=np.float64).reshape(-1, num_classes))
        labels = torch.as_tensor(np.asarray(self._labels, dtype=np.int64))
        if idist.get_world_size() > 1:
            scores = evenly_divisible_all_gather(scores, concat=True)
            labels = evenly_divisible_all_gather(labels, concat=True)
        return labels.numpy(), scores.numpy()

    def __call__(self, engine: Engine) -> dict[str, Any] | None:
        """Write the report of the round that just ended; returns it (``None`` on other ranks or without images)."""
        labels, scores = self._gathered()
        if idist.get_rank() != self.save_rank:
            return None
        if labels.size == 0:
            warnings.warn("ClassificationReportWriter: no images in this round; nothing written", stacklevel=2)
            return None
        probabilities = scores_to_probabilities(scores, self.activation)
        if np.all((probabilities == 0) | (probabilities == 1)):
            warnings.warn(
                f"ClassificationReportWriter: every '{self.pred_key}' is one-hot (was argmax / AsDiscreted applied "
                "before this handler?); the AUCs are then those of hard predictions. Copy the probabilities to "
                "another key before AsDiscreted and set pred_key to it",
                stacklevel=2,
            )
        report = classification_report(labels, probabilities, self.class_names)
        self.write(report)
        self.report = report
        return report

    def write(self, report: Mapping[str, Any]) -> None:
        """Write the three files of ``report`` (a :func:`classification_report` dict) into ``output_dir``.

        Args:
            report: the report to write.
        """
        write_text_atomically(self.output_dir / self.report_name, json.dumps(to_jsonable(report), indent=2) + "\n")
        stream = io.StringIO()
        writer = csv.writer(stream, lineterminator="\n")
        columns = ("precision", "recall", "f1", "specificity", "support", "auc")
        writer.writerow(["class", *columns])
        for name, values in report["per_class"].items():
            writer.writerow([name, *(_format(values[column]) for column in columns)])
        write_text_atomically(self.output_dir / self.csv_name, stream.getvalue())
        figure = confusion_matrix_figure(report["confusion_matrix"], report["class_names"])
        save_figure_atomically(figure, self.output_dir / self.figure_name, dpi=self.dpi)


def _format(value: Any) -> str:
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    return "" if np.isnan(value) else repr(value)
