"""ISIC 2018 Task 1 thresholded Jaccard on hand-made masks."""

from __future__ import annotations

import pytest
import torch

from mamba_monai.metrics import ThresholdedJaccardMetric


def masks(pred_cols: range, ref_cols: range, size: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """One-channel 10x10 masks filled in the given columns (all rows)."""
    pred, ref = torch.zeros(1, 1, size, size), torch.zeros(1, 1, size, size)
    pred[..., list(pred_cols)] = 1
    ref[..., list(ref_cols)] = 1
    return pred, ref


def test_per_image_scores_and_isic_mean():
    metric = ThresholdedJaccardMetric()
    cases = [
        masks(range(0, 8), range(0, 10)),  # IoU 0.8: kept
        masks(range(0, 5), range(0, 10)),  # IoU 0.5: below 0.65 -> 0
        masks(range(0, 6), range(0, 10)),  # IoU 0.6: below 0.65 -> 0
        masks(range(0, 10), range(0, 10)),  # IoU 1.0
    ]
    for pred, ref in cases:
        metric(y_pred=pred, y=ref)
    per_image = metric.get_buffer().flatten().tolist()
    assert per_image == pytest.approx([0.8, 0.0, 0.0, 1.0])
    assert metric.aggregate().item() == pytest.approx((0.8 + 1.0) / 4)


def test_exactly_at_the_threshold_counts():
    metric = ThresholdedJaccardMetric(threshold=0.6)
    pred, ref = masks(range(0, 6), range(0, 10))
    assert metric(y_pred=pred, y=ref).item() == pytest.approx(0.6)


def test_plain_iou_differs_where_the_threshold_bites():
    from monai.metrics import MeanIoU

    pred, ref = masks(range(0, 5), range(0, 10))
    assert MeanIoU()(y_pred=pred, y=ref).item() == pytest.approx(0.5)
    assert ThresholdedJaccardMetric()(y_pred=pred, y=ref).item() == 0.0


def test_bad_threshold_is_refused():
    with pytest.raises(ValueError, match="threshold must be in"):
        ThresholdedJaccardMetric(threshold=65)
