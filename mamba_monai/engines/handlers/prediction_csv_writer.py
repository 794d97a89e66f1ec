"""One CSV row per image of an inference run: file, predicted class name, and the probability of each class.

MONAI's ``ClassificationSaver`` writes the file name and the raw network output (one column per value, no header
names); a user of a classification bundle wants the predicted class by name and one named probability column per
class. This handler writes that table, atomically, after every iteration (the rows so far: a run that fails later
keeps the predictions it made) and complete at the end of the run.
"""

from __future__ import annotations

import csv
import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ignite.distributed as idist
import numpy as np
import torch
from ignite.engine import Engine
from monai.utils import evenly_divisible_all_gather, string_list_all_gather

from mamba_monai.data.transforms.source_name import source_file
from mamba_monai.utils.atomic_files import write_text_atomically
from mamba_monai.engines.handlers.classification_report_writer import item_value, iteration_items
from mamba_monai.metrics.classification import scores_to_probabilities
from mamba_monai.engines.handlers.round_writer import RoundWriter

__all__ = ["PredictionCSVWriter"]


class PredictionCSVWriter(RoundWriter):
    """Ignite handler for an inference evaluator: writes ``output_path``, a CSV table with one row per image and the
    columns ``filename, predicted_class, prob_<class name>...`` (the softmax probabilities, one column per class,
    in ``class_names`` order), at the end of each run (epoch), atomically.

    ``filename`` is the meta ``filename_or_obj`` of the image (the ``MetaTensor`` of ``image_key`` in the output or
    the batch, or the ``<image_key>_meta_dict`` entry), or ``image_<index>`` when there is none. Predictions are read
    from ``engine.state.output[i][pred_key]`` (``(C,)`` logits or probabilities); MONAI's decollated outputs and
    batch-first outputs (``decollate=False``) both work, at any batch size. If post-processing makes ``pred`` one-hot
    (``AsDiscreted``), copy the probabilities to another key first (``CopyItemsd``) and set ``pred_key`` to it (a
    warning says so when every prediction is one-hot). Rows keep the order in which images were evaluated; in
    distributed inference the rows of all ranks are gathered and ``save_rank`` writes.

    Example (bundle config, inference.json ``handlers``)::

        {"_target_": "mamba_monai.engines.handlers.PredictionCSVWriter",
         "output_path": "$@output_dir + '/predictions.csv'", "class_names": "@class_names"}

    Args:
        output_path: the CSV file (its folder is created if needed).
        class_names: one name per network output, in output order.
        image_key: key of the image whose meta gives the file name.
        pred_key: key of the per-image network output.
        activation: ``"auto"`` (softmax unless the outputs already are probabilities), ``"softmax"`` or ``"none"``;
            see :func:`~mamba_monai.metrics.classification.scores_to_probabilities`.
        float_format: format of the probabilities.
        save_rank: in distributed inference, the rank that writes the file.
    """

    def __init__(
        self,
        output_path: str | os.PathLike,
        class_names: Sequence[str],
        image_key: str = "image",
        pred_key: str = "pred",
        activation: str = "auto",
        float_format: str = ".6f",
        save_rank: int = 0,
    ) -> None:
        if isinstance(class_names, str) or len(class_names) < 2:
            raise ValueError(
                f"PredictionCSVWriter: class_names needs one name per class (at least two), got {class_names!r}"
            )
        if len(set(map(str, class_names))) != len(class_names):
            raise ValueError(f"PredictionCSVWriter: class_names must be unique, got {list(class_names)}")
        if activation not in ("auto", "softmax", "none"):
            raise ValueError(f"PredictionCSVWriter: activation must be 'auto', 'softmax' or 'none', got {activation!r}")
        try:
            format(0.5, float_format)
        except ValueError:
            raise ValueError(f"PredictionCSVWriter: float_format {float_format!r} is not a float format spec") from None
        self.output_path = Path(output_path)
        if self.output_path.name == "" or self.output_path.is_dir():
            raise ValueError(f"PredictionCSVWriter: output_path must be a file, got the folder {str(output_path)!r}")
        self.class_names = [str(name) for name in class_names]
        self.image_key = image_key
        self.pred_key = pred_key
        self.activation = activation
        self.float_format = float_format
        self.save_rank = save_rank
        self._filenames: list[str] = []
        self._scores: list[np.ndarray] = []

    def reset(self, engine: Engine) -> None:
        self._filenames, self._scores = [], []

    def collect(self, engine: Engine) -> None:
        for output, batch in iteration_items(engine):
            pred = item_value(self.pred_key, output, batch)
            if pred is None:
                raise ValueError(
                    f"PredictionCSVWriter: key '{self.pred_key}' is not in engine.state.output "
                    f"(keys: {sorted(output)}); set pred_key"
                )
            scores = pred.detach().cpu().double().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred, float)
            scores = scores.reshape(-1)
            if scores.size != len(self.class_names):
                raise ValueError(
                    f"PredictionCSVWriter: '{self.pred_key}' of one image has {scores.size} values but there are "
                    f"{len(self.class_names)} class names {self.class_names}"
                )
            self._scores.append(scores)
            self._filenames.append(self._filename(output, batch, len(self._filenames)))
        if idist.get_world_size() == 1:  # the rows so far, so a run that dies later keeps them
            self._write(self._filenames, np.asarray(self._scores, dtype=np.float64), partial=True)

    def _filename(self, output: Any, batch: Any, index: int) -> str:
        for item in (output, batch):
            filename = source_file(item, self.image_key)
            if filename:
                return filename
        return f"image_{index:04d}"

    def __call__(self, engine: Engine) -> Path | None:
        """Write the table of the run that just ended; returns its path (``None`` on other ranks)."""
        filenames = self._filenames
        scores = torch.as_tensor(np.asarray(self._scores, dtype=np.float64).reshape(-1, len(self.class_names)))
        if idist.get_world_size() > 1:
            filenames = string_list_all_gather(strings=filenames)
            scores = evenly_divisible_all_gather(scores, concat=True)
        if idist.get_rank() != self.save_rank:
            return None
        if not filenames:
            warnings.warn("PredictionCSVWriter: no images in this run; writing a table with no rows", stacklevel=2)
        return self._write(filenames, scores.numpy(), partial=False)

    def _write(self, filenames: list[str], scores: np.ndarray, partial: bool) -> Path:
        probabilities = scores_to_probabilities(scores.reshape(-1, len(self.class_names)), self.activation)
        if not partial and filenames and np.all((probabilities == 0) | (probabilities == 1)):
            warnings.warn(
                f"PredictionCSVWriter: every '{self.pred_key}' is one-hot (was argmax / AsDiscreted applied before "
                "this handler?), so are the probability columns; copy the probabilities to another key before "
                "AsDiscreted and set pred_key to it",
                stacklevel=3,
            )
        stream = io.StringIO()
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["filename", "predicted_class", *(f"prob_{name}" for name in self.class_names)])
        for filename, row in zip(filenames, probabilities):
            predicted = self.class_names[int(np.argmax(row))]
            writer.writerow([filename, predicted, *(format(float(p), self.float_format) for p in row)])
        return write_text_atomically(self.output_path, stream.getvalue())
