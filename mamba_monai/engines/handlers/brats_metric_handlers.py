"""Ignite metric handlers for the BraTS regions: mean Dice and mean HD95, for ``SupervisedEvaluator`` configs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from ignite.engine import Engine
from ignite.exceptions import NotComputableError
from monai.handlers import IgniteMetricHandler, from_engine
from monai.utils import CommonKeys

from mamba_monai.metrics.brats import BRATS_HD95_MAX, BRATS_REGION_NAMES, BratsRegionMetric, SpacingLike

__all__ = ["BratsHD95", "BratsMeanDice", "BratsRegionMetricHandler"]


class BratsRegionMetricHandler(IgniteMetricHandler):
    """One BraTS quantity (Dice or HD95) of :class:`~mamba_monai.metrics.BratsRegionMetric` as an Ignite metric.

    The value of the metric (``engine.state.metrics[name]``) is the mean over cases and regions, a float, so it can be
    a ``key_val_metric`` (best-model checkpointing compares it). With ``per_region=True`` the per-region means are
    also put in ``engine.state.metrics`` as ``f"{name}_{region}"`` (``val_dice_TC``, ...), where ``StatsHandler``,
    ``TensorBoardStatsHandler``, ``MetricsSaver`` and :class:`TrainingCurvesPlotter` find them. With
    ``save_details=True`` the per-case values, an ``(N, R)`` tensor, go to ``engine.state.metric_details[name]`` for
    ``MetricsSaver`` and :class:`BratsMetricsWriter`.

    Args:
        quantity: ``"dice"`` or ``"hd95"``.
        region_names: one name per channel. Defaults to ``("TC", "WT", "ET")``.
        spacing: voxel spacing for HD95 (see ``BratsRegionMetric``); ``None`` reads it from the label's affine.
        hd95_max: HD95 when exactly one of the two masks of a region is empty (BraTS: 373.13).
        output_transform: gives ``(y_pred, y)`` from ``engine.state.output``. Defaults to
            ``from_engine(["pred", "label"])``, right for MONAI's decollated workflow outputs.
        save_details: store the per-case values in ``engine.state.metric_details[name]``.
        per_region: also store the per-region means as ``f"{name}_{region}"`` metrics.
    """

    def __init__(
        self,
        quantity: str = "dice",
        region_names: Sequence[str] = BRATS_REGION_NAMES,
        spacing: SpacingLike = None,
        hd95_max: float = BRATS_HD95_MAX,
        output_transform: Callable | None = None,
        save_details: bool = True,
        per_region: bool = True,
    ) -> None:
        metric_fn = BratsRegionMetric(
            region_names=region_names, spacing=spacing, quantities=(quantity,), hd95_max=hd95_max
        )
        if output_transform is None:
            output_transform = from_engine([CommonKeys.PRED, CommonKeys.LABEL])
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=save_details)
        self.quantity = quantity
        self.per_region = per_region
        self._region_means: dict[str, float] = {}

    def compute(self) -> float:
        """Mean over cases and regions; also stores the per-case values and the per-region means."""
        metric_fn: BratsRegionMetric = self.metric_fn  # type: ignore[assignment]
        try:
            values: torch.Tensor = metric_fn.get_details()[self.quantity]
        except RuntimeError as error:
            raise NotComputableError(f"{type(self).__name__}: no cases were evaluated ({error})") from error
        self._is_reduced = True
        if self.save_details:
            if self._engine is None or self._name is None:
                raise RuntimeError(f"{type(self).__name__}: call attach(engine, name) before computing the metric")
            self._engine.state.metric_details[self._name] = values  # type: ignore[attr-defined]
        region_means = values.double().mean(dim=0)
        self._region_means = dict(zip(metric_fn.region_names, region_means.tolist()))
        return float(region_means.mean())

    def completed(self, engine: Engine, name: str) -> None:
        """Put the mean under ``name`` and, with ``per_region``, each region's mean under ``f"{name}_{region}"``."""
        super().completed(engine, name)
        if self.per_region:
            for region, value in self._region_means.items():
                engine.state.metrics[f"{name}_{region}"] = value


class BratsMeanDice(BratsRegionMetricHandler):
    """Mean Dice of the BraTS regions (both masks empty: 1, one empty: 0), as an Ignite metric.

    See :class:`BratsRegionMetricHandler` for what it stores in the engine.

    Args:
        region_names: one name per channel. Defaults to ``("TC", "WT", "ET")``.
        output_transform: gives ``(y_pred, y)``; defaults to ``from_engine(["pred", "label"])``.
        save_details: store the per-case values in ``engine.state.metric_details[name]``.
        per_region: also store the per-region means as ``f"{name}_{region}"`` metrics.
    """

    def __init__(
        self,
        region_names: Sequence[str] = BRATS_REGION_NAMES,
        output_transform: Callable | None = None,
        save_details: bool = True,
        per_region: bool = True,
    ) -> None:
        super().__init__(
            quantity="dice",
            region_names=region_names,
            output_transform=output_transform,
            save_details=save_details,
            per_region=per_region,
        )


class BratsHD95(BratsRegionMetricHandler):
    """Mean 95th-percentile Hausdorff distance of the BraTS regions, in physical units, as an Ignite metric.

    Both masks empty: 0; exactly one empty: ``hd95_max`` (373.13). Lower is better: as a ``key_val_metric`` give the
    evaluator ``"metric_cmp_fn": "$lambda current, prev: current < prev"`` and ``CheckpointSaver``
    ``"key_metric_negative_sign": true``. See :class:`BratsRegionMetricHandler` for what it stores in the engine.

    Args:
        region_names: one name per channel. Defaults to ``("TC", "WT", "ET")``.
        spacing: voxel spacing; ``None`` (default) reads it per case from the label's affine (MetaTensor).
        hd95_max: HD95 when exactly one of the two masks is empty.
        output_transform: gives ``(y_pred, y)``; defaults to ``from_engine(["pred", "label"])``.
        save_details: store the per-case values in ``engine.state.metric_details[name]``.
        per_region: also store the per-region means as ``f"{name}_{region}"`` metrics.
    """

    def __init__(
        self,
        region_names: Sequence[str] = BRATS_REGION_NAMES,
        spacing: SpacingLike = None,
        hd95_max: float = BRATS_HD95_MAX,
        output_transform: Callable | None = None,
        save_details: bool = True,
        per_region: bool = True,
    ) -> None:
        super().__init__(
            quantity="hd95",
            region_names=region_names,
            spacing=spacing,
            hd95_max=hd95_max,
            output_transform=output_transform,
            save_details=save_details,
            per_region=per_region,
        )
