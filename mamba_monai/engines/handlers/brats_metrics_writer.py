"""Per-case metric table (CSV) and summary (JSON) of an evaluation round, with region names and case ids.

MONAI's ``MetricsSaver`` writes one ``<metric>_raw.csv`` per metric with columns ``class0, class1, ...`` and the full
image path, and a CSV summary. For BraTS we want one table with a row per case (the case id) and a column per metric
and region (``val_dice_TC``, ..., ``val_hd95_ET``), and a JSON summary with the column means; both written
atomically, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import ignite.distributed as idist
import torch
from ignite.engine import Engine
from monai.data import decollate_batch
from monai.utils import string_list_all_gather

from mamba_monai.data.brats import BRATS_NAMINGS
from mamba_monai.data.transforms.source_name import source_file, source_stem
from mamba_monai.utils.atomic_files import write_text_atomically
from mamba_monai.engines.handlers.metric_values import scalar_metrics
from mamba_monai.metrics.brats import BRATS_REGION_NAMES
from mamba_monai.engines.handlers.round_writer import RoundWriter

__all__ = ["BratsMetricsWriter", "case_id_from_filename", "item_case_id"]

_MODALITY_SUFFIXES = sorted(
    {suffix for naming in BRATS_NAMINGS.values() for suffix in naming["suffixes"].values()}, key=len, reverse=True
)
_MODALITY_PATTERN = re.compile(r"[_-](?:" + "|".join(_MODALITY_SUFFIXES) + r")$", re.IGNORECASE)


def case_id_from_filename(filename: str | os.PathLike | Sequence[str]) -> str:
    """Case id from an image file name: the base name without its image extension and without a BraTS modality
    suffix (``.../BraTS2021_00000_flair.nii.gz`` -> ``BraTS2021_00000``, ``BraTS-GLI-00000-000-t2f.nii.gz`` ->
    ``BraTS-GLI-00000-000``). A list (several files of one case) uses its first file.

    Args:
        filename: a path, or a list of paths.
    """
    if isinstance(filename, (list, tuple)):
        if not filename:
            raise ValueError("case_id_from_filename: got an empty list of file names")
        filename = filename[0]
    name = source_stem(filename, default="")
    return _MODALITY_PATTERN.sub("", name) or name


def item_case_id(item: Any, index: int, case_key: str = "case", image_key: str = "image") -> str:
    """The case id of a data item (a dict): the name in ``item[case_key]``, else the case id of the file
    ``item[image_key]`` was loaded from (:func:`case_id_from_filename`), else ``case_<index>``.

    Args:
        item: one data item (a decollated batch or output).
        index: the item's position in the round, for the last fallback.
        case_key: key of the case id; MONAI's ``load_decathlon_datalist`` turns a value naming an existing folder
            (the case folder) into its path, so a path gives its last part.
        image_key: key of the array whose meta data name its file.
    """
    if isinstance(item, dict):
        case = item.get(case_key)
        if isinstance(case, str) and case:
            return os.path.basename(case.rstrip("/\\")) or case
        filename = source_file(item, image_key)
        if filename:
            return case_id_from_filename(filename)
    return f"case_{index:04d}"


class BratsMetricsWriter(RoundWriter):
    """Ignite handler for an evaluator: writes ``metrics_per_case.csv`` and ``metrics_summary.json`` each round.

    The values come from ``engine.state.metric_details``, filled by metric handlers with ``save_details=True``
    (:class:`BratsMeanDice`, :class:`BratsHD95`, and MONAI's ``MeanDice``, ``HausdorffDistance``, ...). Each
    ``(N, R)`` detail gives the columns ``f"{metric}_{region}"`` (region names when ``R == len(region_names)``,
    else the channel index) and ``f"{metric}_mean"``; a ``(N,)`` detail gives one column ``metric``. The first
    column, ``case``, holds the value of ``case_key`` in the batch when present (the datalists of
    :mod:`mamba_monai.data.brats` have a ``"case"`` entry), else the case id derived from the image's meta
    ``filename_or_obj`` (see :func:`case_id_from_filename`), else ``case_<index>``.

    The JSON summary holds ``epoch`` (the evaluator's epoch: the trainer's epoch during training), ``num_cases``,
    ``means`` (the mean of each CSV column, ignoring NaN; ``null`` when a column has no number) and ``metrics`` (the
    scalar metrics of ``engine.state.metrics``). Both files are rewritten, atomically, after every round.

    Attach it after the metrics (as MONAI's workflows do with ``val_handlers``), so the details exist when it runs.

    Args:
        output_dir: folder for the two files (created if needed).
        metric_names: which entries of ``engine.state.metric_details`` to write, in this order; ``None`` (default)
            writes all of them.
        region_names: names of the channels. Defaults to ``("TC", "WT", "ET")``.
        case_key: batch key holding the case id, if any.
        image_key: batch key of the image whose meta ``filename_or_obj`` gives the case id otherwise.
        csv_name: file name of the per-case table.
        json_name: file name of the summary.
        save_rank: in distributed evaluation, the rank that writes the files.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        metric_names: Sequence[str] | None = None,
        region_names: Sequence[str] = BRATS_REGION_NAMES,
        case_key: str = "case",
        image_key: str = "image",
        csv_name: str = "metrics_per_case.csv",
        json_name: str = "metrics_summary.json",
        save_rank: int = 0,
    ) -> None:
        self.output_dir = Path(output_dir)
        if isinstance(metric_names, str):
            metric_names = [metric_names]
        self.metric_names = None if metric_names is None else list(metric_names)
        self.region_names = tuple(region_names)
        self.case_key = case_key
        self.image_key = image_key
        for what, name in (("csv_name", csv_name), ("json_name", json_name)):
            if not name or os.path.basename(name) != name:
                raise ValueError(f"BratsMetricsWriter: {what} must be a plain file name, got {name!r}")
        self.csv_name = csv_name
        self.json_name = json_name
        self.save_rank = save_rank
        self._case_ids: list[str] = []

    def reset(self, engine: Engine) -> None:
        self._case_ids = []

    def collect(self, engine: Engine) -> None:
        batch = engine.state.batch
        items = decollate_batch(batch, detach=True) if isinstance(batch, dict) else list(batch or [])
        for item in items:
            self._case_ids.append(item_case_id(item, len(self._case_ids), self.case_key, self.image_key))

    def __call__(self, engine: Engine) -> None:
        """Write the per-case table and the summary of the round that just ended."""
        case_ids = self._case_ids
        if idist.get_world_size() > 1:
            case_ids = string_list_all_gather(strings=case_ids)
        if idist.get_rank() != self.save_rank:
            return
        columns, table = self._table(engine)
        n_cases = table.shape[0]
        if len(case_ids) != n_cases:
            warnings.warn(
                f"BratsMetricsWriter: collected {len(case_ids)} case ids for {n_cases} rows of metric details; "
                "writing case_<index> ids instead",
                stacklevel=2,
            )
            case_ids = [f"case_{i:04d}" for i in range(n_cases)]

        stream = io.StringIO()
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["case", *columns])
        for case, row in zip(case_ids, table):
            writer.writerow([case, *(_format(v) for v in row)])
        write_text_atomically(self.output_dir / self.csv_name, stream.getvalue())

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, written as null
            means = np.nanmean(table, axis=0) if n_cases else np.full(len(columns), np.nan)
        summary = {
            "epoch": int(engine.state.epoch),
            "num_cases": n_cases,
            "means": {column: _json_number(value) for column, value in zip(columns, means)},
            "metrics": {k: _json_number(v) for k, v in scalar_metrics(engine.state.metrics).items()},
        }
        write_text_atomically(self.output_dir / self.json_name, json.dumps(summary, indent=2) + "\n")

    def _table(self, engine: Engine) -> tuple[list[str], np.ndarray]:
        details: dict = getattr(engine.state, "metric_details", None) or {}
        names = list(details) if self.metric_names is None else self.metric_names
        missing = [name for name in names if name not in details]
        if missing or not names:
            raise ValueError(
                f"BratsMetricsWriter: no metric details for {missing or 'any metric'} in engine.state.metric_details "
                f"(available: {sorted(details)}); give the metric handlers save_details=True and attach this writer "
                "after them"
            )
        columns: list[str] = []
        blocks: list[np.ndarray] = []
        for name in names:
            values = details[name]
            if isinstance(values, torch.Tensor):
                values = values.detach().cpu().double().numpy()
            values = np.asarray(values, dtype=np.float64)
            if values.ndim == 1:
                values = values[:, None]
            if values.ndim != 2:
                raise ValueError(
                    f"BratsMetricsWriter: metric details of '{name}' must be (cases,) or (cases, regions), got shape "
                    f"{values.shape}"
                )
            if values.shape[1] == 1:
                columns.append(name)
            else:
                labels = self.region_names if values.shape[1] == len(self.region_names) else range(values.shape[1])
                columns.extend(f"{name}_{label}" for label in labels)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    values = np.concatenate([values, np.nanmean(values, axis=1, keepdims=True)], axis=1)
                columns.append(f"{name}_mean")
            blocks.append(values)
        rows = {block.shape[0] for block in blocks}
        if len(rows) != 1:
            raise ValueError(
                f"BratsMetricsWriter: metric details {names} have different numbers of cases "
                f"{[block.shape[0] for block in blocks]}"
            )
        return columns, np.concatenate(blocks, axis=1)


def _json_number(value: float) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _format(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))
