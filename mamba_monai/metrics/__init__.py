"""Metrics MONAI lacks: BraTS regions with the challenge's conventions, the ISIC thresholded Jaccard, classification
reports."""

from mamba_monai.metrics.classification import (
    classification_report,
    confusion_matrix,
    one_vs_rest_auc,
    scores_to_probabilities,
    to_jsonable,
)
from mamba_monai.metrics.brats import (
    BRATS_HD95_MAX,
    BRATS_METRIC_QUANTITIES,
    BRATS_REGION_NAMES,
    BratsRegionMetric,
    brats_dice_hd95,
)

from mamba_monai.metrics.isic import ISIC_JACCARD_THRESHOLD, ThresholdedJaccardMetric

__all__ = [
    "ISIC_JACCARD_THRESHOLD",
    "ThresholdedJaccardMetric",
    "BRATS_HD95_MAX",
    "BRATS_METRIC_QUANTITIES",
    "BRATS_REGION_NAMES",
    "BratsRegionMetric",
    "brats_dice_hd95",
    "classification_report",
    "confusion_matrix",
    "one_vs_rest_auc",
    "scores_to_probabilities",
    "to_jsonable",
]
