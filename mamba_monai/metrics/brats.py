"""BraTS evaluation of the nested tumour regions (TC, WT, ET): Dice and HD95 with the challenge's empty-mask rules.

MONAI's Dice and Hausdorff functions return NaN (and warn) when a mask is empty; the BraTS challenge instead scores

==========================  =====  ================================
case (per region)           Dice   HD95
==========================  =====  ================================
both masks empty            1      0
exactly one mask empty      0      373.13 (``BRATS_HD95_MAX``)
both masks non-empty        Dice   95th percentile symmetric Hausdorff distance, in physical units (mm)
==========================  =====  ================================

so that every case counts in the mean. The regular cases are computed by ``monai.metrics.compute_dice`` and
``monai.metrics.compute_hausdorff_distance(percentile=95, spacing=...)``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.data.utils import affine_to_spacing
from monai.metrics import CumulativeIterationMetric, compute_dice, compute_hausdorff_distance

__all__ = [
    "BRATS_HD95_MAX",
    "BRATS_METRIC_QUANTITIES",
    "BRATS_REGION_NAMES",
    "BratsRegionMetric",
    "brats_dice_hd95",
]

#: the three evaluation regions, in the channel order of ``ConvertBratsLabels`` (tumour core, whole tumour, enhancing)
BRATS_REGION_NAMES: tuple[str, ...] = ("TC", "WT", "ET")
#: HD95 given when exactly one of prediction and ground truth is empty: the diagonal of the 240 x 240 x 155 BraTS
#: volume at 1 mm, 373.13 mm, as the challenge's evaluation does
BRATS_HD95_MAX: float = math.sqrt(240.0**2 + 240.0**2 + 155.0**2)
#: what :class:`BratsRegionMetric` can compute, in the order of its buffers
BRATS_METRIC_QUANTITIES: tuple[str, ...] = ("dice", "hd95")

SpacingLike = float | Sequence[float] | Sequence[Sequence[float]] | np.ndarray | torch.Tensor | None


class BratsRegionMetric(CumulativeIterationMetric):
    """Per-case, per-region Dice and HD95 of binarised region masks, with the BraTS rules for empty masks.

    Inputs are batch-first tensors ``(B, R, *spatial)`` (or lists of channel-first ``(R, *spatial)`` tensors) of 0/1
    values, one channel per region (``R == len(region_names)``), e.g. the TC, WT, ET channels produced by
    ``ConvertBratsLabels`` and a thresholded sigmoid output. Works for 2D and 3D.

    The voxel spacing of HD95 is, in this order of precedence: the ``spacing`` keyword of the call, the ``spacing``
    given here, the affine of the label (or else the prediction) when it is a ``MetaTensor`` (per case for a batch),
    and 1 otherwise. Dice does not depend on spacing.

    ``aggregate()`` returns the means over the accumulated cases, per region and overall, as a flat dict
    (``{"dice_TC": ..., "dice_WT": ..., "dice_ET": ..., "dice_mean": ..., "hd95_TC": ..., ..., "hd95_mean": ...}``);
    ``get_details()`` returns the per-case values, ``{"dice": (N, R) tensor, "hd95": (N, R) tensor}``.

    Example::

        metric = BratsRegionMetric()
        for batch in loader:
            pred = (torch.sigmoid(net(batch["image"])) > 0.5).float()
            metric(y_pred=pred, y=batch["label"])  # spacing from the label's affine
        means = metric.aggregate()  # {"dice_TC": 0.91, ..., "hd95_mean": 4.2}
        per_case = metric.get_details()["hd95"]  # (N, 3)
        metric.reset()

    Args:
        region_names: one name per channel, used in the keys of ``aggregate()``. Defaults to ``("TC", "WT", "ET")``.
        spacing: voxel spacing for HD95: a number (isotropic), one number per spatial dimension, or (for
            batch-first input) one such sequence per case. ``None`` (default) reads it from the label's affine.
        quantities: what to compute, a subset of ``("dice", "hd95")``; HD95 is the expensive one (distance
            transforms), so a Dice-only metric can leave it out.
        hd95_max: HD95 when exactly one of the two masks of a region is empty. Defaults to ``BRATS_HD95_MAX``.
    """

    def __init__(
        self,
        region_names: Sequence[str] = BRATS_REGION_NAMES,
        spacing: SpacingLike = None,
        quantities: Sequence[str] = BRATS_METRIC_QUANTITIES,
        hd95_max: float = BRATS_HD95_MAX,
    ) -> None:
        super().__init__()
        if isinstance(region_names, str) or len(region_names) == 0:
            raise ValueError(
                f"BratsRegionMetric: region_names must be a non-empty sequence of names, got {region_names!r}"
            )
        self.region_names = tuple(str(name) for name in region_names)
        if len(set(self.region_names)) != len(self.region_names):
            raise ValueError(f"BratsRegionMetric: region_names must be unique, got {self.region_names}")
        if isinstance(quantities, str):
            quantities = (quantities,)
        unknown = [q for q in quantities if q not in BRATS_METRIC_QUANTITIES]
        if unknown or len(quantities) == 0:
            raise ValueError(
                f"BratsRegionMetric: quantities must be a non-empty subset of {BRATS_METRIC_QUANTITIES}, "
                f"got {tuple(quantities)}"
            )
        # keep the canonical order, so that the buffers are always (dice, hd95) whatever order was given
        self.quantities = tuple(q for q in BRATS_METRIC_QUANTITIES if q in quantities)
        if not (hd95_max > 0 and math.isfinite(hd95_max)):
            raise ValueError(f"BratsRegionMetric: hd95_max must be a positive finite number, got {hd95_max}")
        self.hd95_max = float(hd95_max)
        self.spacing = spacing

    def _compute_tensor(  # type: ignore[override]
        self, y_pred: torch.Tensor, y: torch.Tensor | None = None, spacing: SpacingLike = None, **kwargs: Any
    ) -> list[torch.Tensor]:
        """One ``(B, R)`` float tensor per quantity (in the order of ``self.quantities``) for a batch-first pair.

        Args:
            y_pred: binarised prediction ``(B, R, *spatial)``.
            y: binarised ground truth, same shape.
            spacing: voxel spacing of this batch (overrides the constructor's and the label's).
        """
        pred, label = self._check_inputs(y_pred, y)
        batch, spatial_dims = pred.shape[0], pred.ndim - 2
        pred_empty = ~pred.flatten(2).any(dim=2)  # (B, R)
        label_empty = ~label.flatten(2).any(dim=2)
        both_empty = pred_empty & label_empty
        one_empty = pred_empty ^ label_empty

        results = []
        if "dice" in self.quantities:
            dice = compute_dice(pred.float(), label.float(), include_background=True, ignore_empty=False).float().cpu()
            dice[both_empty.cpu()] = 1.0
            dice[one_empty.cpu()] = 0.0
            results.append(dice)
        if "hd95" in self.quantities:
            if spacing is None:
                spacing = self.spacing
            if spacing is None:
                spacing = _spacing_from_meta(y, spatial_dims)
            if spacing is None:
                spacing = _spacing_from_meta(y_pred, spatial_dims)
            per_case_spacing = _per_case_spacing(spacing, batch, spatial_dims)
            hd95 = torch.zeros(pred.shape[:2], dtype=torch.float32)
            hd95[one_empty.cpu()] = self.hd95_max
            regular = (~pred_empty & ~label_empty).cpu()
            for b in range(batch):
                channels = torch.nonzero(regular[b]).flatten().tolist()
                if channels:
                    hd95[b, channels] = _hausdorff_95(
                        pred[b : b + 1, channels], label[b : b + 1, channels], per_case_spacing[b]
                    )
            results.append(hd95)
        return results

    def _check_inputs(self, y_pred: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
        name = type(self).__name__
        if y is None:
            raise ValueError(f"{name}: the ground truth y is required")
        tensors = []
        for what, value in (("y_pred", y_pred), ("y", y)):
            if not isinstance(value, torch.Tensor):
                raise ValueError(f"{name}: {what} must be a torch.Tensor, got {type(value).__name__}")
            value = value.as_tensor() if isinstance(value, MetaTensor) else value
            if value.ndim < 4:
                raise ValueError(
                    f"{name}: {what} must be batch-first (B, R, *spatial) with 2 or 3 spatial dims (or a list of "
                    f"channel-first (R, *spatial) tensors), got shape {tuple(value.shape)}"
                )
            if value.shape[1] != len(self.region_names):
                raise ValueError(
                    f"{name}: {what} has {value.shape[1]} channels but there are {len(self.region_names)} regions "
                    f"{self.region_names}; shape {tuple(value.shape)}"
                )
            bad = torch.zeros((), dtype=torch.bool) if value.dtype == torch.bool else (value != 0) & (value != 1)
            if bool(bad.any()):
                example = value[bad].flatten()[0].item()
                raise ValueError(
                    f"{name}: {what} must be binarised (0/1 values), found {example!r}; threshold the prediction "
                    "first, e.g. Activationsd(sigmoid=True) then AsDiscreted(threshold=0.5)"
                )
            tensors.append(value != 0)
        pred, label = tensors
        if pred.shape != label.shape:
            raise ValueError(
                f"{name}: y_pred and y must have the same shape, got {tuple(pred.shape)} and {tuple(label.shape)}"
            )
        return pred, label

    def get_details(self) -> dict[str, torch.Tensor]:
        """The per-case values accumulated so far: ``{quantity: (N, R) float tensor}``.

        Raises:
            RuntimeError: nothing has been accumulated since the last ``reset()``.
        """
        buffers = self.get_buffer()
        if buffers is None:
            raise RuntimeError(f"{type(self).__name__}: no cases accumulated yet; call the metric on (y_pred, y) first")
        if isinstance(buffers, torch.Tensor):
            buffers = [buffers]
        return dict(zip(self.quantities, buffers))

    def aggregate(self) -> dict[str, float]:  # type: ignore[override]
        """Means over the accumulated cases: ``{f"{quantity}_{region}": mean, f"{quantity}_mean": mean of those}``.

        Raises:
            RuntimeError: nothing has been accumulated since the last ``reset()``.
        """
        return _region_means(self.get_details(), self.region_names)


def brats_dice_hd95(
    pred: torch.Tensor | np.ndarray,
    label: torch.Tensor | np.ndarray,
    spacing: SpacingLike = None,
    region_names: Sequence[str] = BRATS_REGION_NAMES,
    hd95_max: float = BRATS_HD95_MAX,
) -> dict[str, float]:
    """Dice and HD95 of one case, per region and averaged over the regions, with the BraTS empty-mask rules.

    Example::

        scores = brats_dice_hd95(pred, label, spacing=(1.0, 1.0, 1.0))
        scores["dice_ET"], scores["hd95_WT"], scores["dice_mean"]

    Args:
        pred: binarised prediction of one case, channel-first ``(R, *spatial)`` (numpy or torch).
        label: binarised ground truth, same shape.
        spacing: voxel spacing (a number or one number per spatial dimension); ``None`` reads it from the label's
            affine when it is a ``MetaTensor``, else 1.
        region_names: one name per channel. Defaults to ``("TC", "WT", "ET")``.
        hd95_max: HD95 when exactly one of the two masks is empty.

    Returns:
        ``{"dice_TC": ..., "dice_WT": ..., "dice_ET": ..., "dice_mean": ..., "hd95_TC": ..., ..., "hd95_mean": ...}``
        (keys follow ``region_names``).
    """
    pred_t = torch.as_tensor(pred) if isinstance(pred, np.ndarray) else pred
    label_t = torch.as_tensor(label) if isinstance(label, np.ndarray) else label
    for what, value in (("pred", pred_t), ("label", label_t)):
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                f"brats_dice_hd95: {what} must be a numpy array or torch tensor, got {type(value).__name__}"
            )
        if value.ndim not in (3, 4):
            raise ValueError(
                f"brats_dice_hd95: {what} must be one channel-first case (R, *spatial) with 2 or 3 spatial dims, "
                f"got shape {tuple(value.shape)}"
            )
    metric = BratsRegionMetric(region_names=region_names, spacing=spacing, hd95_max=hd95_max)
    metric(y_pred=pred_t.unsqueeze(0), y=label_t.unsqueeze(0))
    return metric.aggregate()


def _hausdorff_95(pred: torch.Tensor, label: torch.Tensor, spacing: tuple[float, ...] | None) -> torch.Tensor:
    """HD95 of (1, C, *spatial) non-empty masks, one value per channel."""
    with warnings.catch_warnings():
        # MONAI 1.5-1.6 warns about its own internal use of a deprecated argument on every call
        warnings.filterwarnings("ignore", message=".*always_return_as_numpy.*")
        distances = compute_hausdorff_distance(
            pred.float(),
            label.float(),
            include_background=True,
            percentile=95,
            spacing=None if spacing is None else [list(spacing)],
        )
    return distances[0].float().cpu()


def _spacing_from_meta(data: Any, spatial_dims: int) -> list[tuple[float, ...]] | None:
    """Per-case spacing from a MetaTensor's affine ((4, 4) for all cases or (B, 4, 4)), ``None`` if unknown."""
    if not isinstance(data, MetaTensor):
        return None
    affine = data.affine
    if affine.ndim == 2:
        affines = [affine] * data.shape[0]
    elif affine.ndim == 3 and affine.shape[0] == data.shape[0]:
        affines = list(affine)
    else:
        return None
    return [tuple(float(s) for s in affine_to_spacing(a, r=spatial_dims)) for a in affines]


def _per_case_spacing(spacing: SpacingLike, batch: int, spatial_dims: int) -> list[tuple[float, ...] | None]:
    """Normalise ``spacing`` to one tuple of ``spatial_dims`` positive numbers per case (or ``None`` for unit)."""
    if spacing is None:
        return [None] * batch
    values = np.asarray(spacing.detach().cpu() if isinstance(spacing, torch.Tensor) else spacing, dtype=np.float64)
    if values.ndim == 0:
        values = np.full((batch, spatial_dims), float(values))
    elif values.ndim == 1 and values.shape[0] == spatial_dims:
        values = np.tile(values, (batch, 1))
    elif values.ndim == 2 and values.shape == (batch, 1):
        values = np.tile(values, (1, spatial_dims))
    if values.shape != (batch, spatial_dims):
        raise ValueError(
            f"BratsRegionMetric: spacing must be a number, {spatial_dims} numbers (one per spatial dimension) or one "
            f"such sequence per case of the batch of {batch}, got {spacing!r}"
        )
    if not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError(f"BratsRegionMetric: spacing must be positive and finite, got {spacing!r}")
    return [tuple(float(v) for v in row) for row in values]


def _region_means(details: dict[str, torch.Tensor], region_names: Sequence[str]) -> dict[str, float]:
    """Means of per-case ``(N, R)`` values per region (``"<quantity>_<region>"``) and over the regions
    (``"<quantity>_mean"``)."""
    summary: dict[str, float] = {}
    for quantity, values in details.items():
        region_means = values.double().mean(dim=0)
        for region, value in zip(region_names, region_means.tolist()):
            summary[f"{quantity}_{region}"] = value
        summary[f"{quantity}_mean"] = float(region_means.mean())
    return summary
