"""The official BraTS figures of an evaluation round, computed on the label maps inference would write.

The evaluator's ``pred`` holds the thresholded region masks (TC, WT, ET) after the bundle's post-processing; they
become the label map inference writes (:class:`~mamba_monai.data.transforms.BratsRegionsToLabels`), and the
reference regions become the reference label map the same way (exact for BraTS labels, whose regions are nested).
Each case is then scored by the official engine (:mod:`mamba_monai.metrics.brats_official`), so the tables equal
``mamba-monai brats-metrics`` on the written predictions. Distances (HD95, NSD) are in mm of the evaluated voxel
size, read from the reference's affine as the official tool reads the NIfTI header.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import ignite.distributed as idist
import torch
from ignite.engine import Engine
from monai.data import MetaTensor, decollate_batch

from mamba_monai.data.transforms import BratsRegionsToLabels
from mamba_monai.engines.handlers.brats_metrics_writer import item_case_id
from mamba_monai.metrics.brats_folders import BratsFolderResult, write_official_tables
from mamba_monai.metrics.brats_official import INSTALL_HINT, official_case_metrics, official_evaluator
from mamba_monai.engines.handlers.round_writer import RoundWriter

__all__ = ["BratsOfficialMetricsWriter", "gather_rows", "voxel_size"]


def gather_rows(rows: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Every rank's rows (distributed evaluation: each rank scored its share of the cases); ``rows`` unchanged in a
    single process.

    Args:
        rows: this rank's rows, case -> column -> value.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return rows
    gathered: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, rows)
    merged: dict[str, dict[str, float]] = {}
    for part in gathered:
        merged.update(part or {})
    return merged


def voxel_size(image: Any) -> tuple[float, ...] | None:
    """The voxel size (mm) of a channel-first 3D MetaTensor, from its affine as the evaluation sees it (after any
    resampling of the bundle's transforms); None for a plain tensor (the metrics then count in voxels, 1 mm each).

    Args:
        image: a reference or prediction of the evaluator's output.
    """
    if not isinstance(image, MetaTensor):
        return None
    return tuple(float(v) for v in image.pixdim[:3])


class BratsOfficialMetricsWriter(RoundWriter):
    """Ignite handler for a BraTS evaluator: writes ``<name>.json`` and ``<name>.csv`` (the tables of
    :func:`~mamba_monai.metrics.brats_folders.write_official_tables`) after each round, one row per case.

    Without the official packages it warns once, naming the install command, and writes nothing.

    Args:
        output_dir: folder of the tables.
        name: file name of the tables without suffix.
        config: BraTS sub-challenge configuration (see :func:`~mamba_monai.metrics.brats_official.official_evaluator`).
        pred_key: batch key of the predicted regions (TC, WT, ET), thresholded.
        label_key: batch key of the reference regions.
        case_key: batch key of the case id (falls back to the image file name, then ``case_<index>``).
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        name: str = "metrics_official",
        config: str = "gli",
        pred_key: str = "pred",
        label_key: str = "label",
        case_key: str = "case",
    ) -> None:
        self.output_dir = Path(output_dir)
        self.name, self.config = name, config
        self.pred_key, self.label_key, self.case_key = pred_key, label_key, case_key
        self.to_labels = BratsRegionsToLabels(coding="2023")
        self._evaluator: Any = None
        self._rows: dict[str, dict[str, float]] = {}

    def attach(self, engine: Engine) -> None:
        """Register on an evaluator (does nothing, after one warning, when the official packages are missing).

        Args:
            engine: the evaluator.
        """
        try:
            self._evaluator = official_evaluator(self.config)
        except RuntimeError:
            warnings.warn(f"official BraTS metrics are not computed: they need {INSTALL_HINT}", stacklevel=2)
            return
        super().attach(engine)

    def reset(self, engine: Engine) -> None:
        self._rows = {}

    def collect(self, engine: Engine) -> None:
        output = engine.state.output
        items = output if isinstance(output, list) else decollate_batch(output, detach=True)
        for item in items:
            case = item_case_id(item, len(self._rows), self.case_key, self.pred_key)
            prediction = self.to_labels(item[self.pred_key])
            reference = self.to_labels(item[self.label_key])
            spacing = voxel_size(item[self.label_key])
            self._rows[case] = official_case_metrics(
                prediction, reference, self._evaluator, coding="2023", spacing=spacing
            )

    def __call__(self, engine: Engine) -> None:
        rows = gather_rows(self._rows)
        if idist.get_rank() != self.save_rank:
            return
        result = BratsFolderResult(rows=dict(sorted(rows.items())))
        write_official_tables(result, self.output_dir / self.name, {"config": self.config, "coding": "2023"})
