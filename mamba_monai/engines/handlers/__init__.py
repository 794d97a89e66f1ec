"""Ignite handlers for MONAI workflows: BraTS region metrics, metric tables, official BraTS figures, training curves, segmentation overlays, lesion masks and overlays,
classification reports, prediction tables and the items each rank trained on."""

from mamba_monai.engines.handlers.brats_metric_handlers import BratsHD95, BratsMeanDice, BratsRegionMetricHandler
from mamba_monai.engines.handlers.brats_metrics_writer import BratsMetricsWriter, case_id_from_filename
from mamba_monai.engines.handlers.brats_official_writer import BratsOfficialMetricsWriter
from mamba_monai.engines.handlers.classification_report_writer import (
    ClassificationReportWriter,
    confusion_matrix_figure,
)
from mamba_monai.engines.handlers.lesion_mask_writer import LesionMaskWriter
from mamba_monai.engines.handlers.lesion_overlay_writer import LesionOverlayWriter
from mamba_monai.engines.handlers.prediction_csv_writer import PredictionCSVWriter
from mamba_monai.engines.handlers.seen_items_recorder import SeenItemsRecorder
from mamba_monai.engines.handlers.segmentation_overlay_writer import SegmentationOverlayWriter
from mamba_monai.engines.handlers.training_curves_plotter import TrainingCurvesPlotter

__all__ = [
    "BratsHD95",
    "BratsMeanDice",
    "BratsMetricsWriter",
    "BratsOfficialMetricsWriter",
    "BratsRegionMetricHandler",
    "ClassificationReportWriter",
    "LesionMaskWriter",
    "LesionOverlayWriter",
    "PredictionCSVWriter",
    "SeenItemsRecorder",
    "SegmentationOverlayWriter",
    "TrainingCurvesPlotter",
    "case_id_from_filename",
    "confusion_matrix_figure",
]
