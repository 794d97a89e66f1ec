"""The ISIC 2018 Task 1 (lesion boundary segmentation) score: thresholded Jaccard.

Per image, the Jaccard index (IoU) of the predicted and reference lesion masks; an image whose IoU is below 0.65 counts
as 0 (a failed segmentation); the score is the mean over images (Codella et al., ISIC 2018 challenge, Task 1).
"""

from __future__ import annotations

import torch
from monai.metrics import MeanIoU

__all__ = ["ISIC_JACCARD_THRESHOLD", "ThresholdedJaccardMetric"]

ISIC_JACCARD_THRESHOLD = 0.65


class ThresholdedJaccardMetric(MeanIoU):
    """MONAI's :class:`~monai.metrics.MeanIoU` per image, set to 0 below ``threshold`` before averaging.

    Args:
        threshold: IoU under which an image scores 0 (ISIC 2018: 0.65).
        include_background: as in MeanIoU (True for one-channel binary masks).
        reduction: how to reduce over images and channels (``"mean"``: the ISIC score).
        get_not_nans: also return the number of non-NaN values.
        ignore_empty: as in MeanIoU: False scores an image whose reference and prediction are both empty as 1.
    """

    def __init__(
        self,
        threshold: float = ISIC_JACCARD_THRESHOLD,
        include_background: bool = True,
        reduction: str = "mean",
        get_not_nans: bool = False,
        ignore_empty: bool = False,
    ) -> None:
        super().__init__(
            include_background=include_background, reduction=reduction, get_not_nans=get_not_nans,
            ignore_empty=ignore_empty,
        )  # fmt: skip
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        self.threshold = float(threshold)

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        iou = super()._compute_tensor(y_pred, y)
        return torch.where(iou < self.threshold, torch.zeros_like(iou), iou)
