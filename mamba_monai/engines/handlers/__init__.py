"""Ignite handlers for MONAI workflows: BraTS region metrics, metric tables, training curves, segmentation overlays."""

from mamba_monai.engines.handlers.atomic_files import (
    save_figure_atomically,
    write_bytes_atomically,
    write_text_atomically,
)
from mamba_monai.engines.handlers.brats_metric_handlers import BratsHD95, BratsMeanDice, BratsRegionMetricHandler
from mamba_monai.engines.handlers.brats_metrics_writer import BratsMetricsWriter, case_id_from_filename
from mamba_monai.engines.handlers.segmentation_overlay_writer import SegmentationOverlayWriter
from mamba_monai.engines.handlers.training_curves_plotter import TrainingCurvesPlotter

__all__ = [
    "BratsHD95",
    "BratsMeanDice",
    "BratsMetricsWriter",
    "BratsRegionMetricHandler",
    "SegmentationOverlayWriter",
    "TrainingCurvesPlotter",
    "case_id_from_filename",
    "save_figure_atomically",
    "write_bytes_atomically",
    "write_text_atomically",
]
