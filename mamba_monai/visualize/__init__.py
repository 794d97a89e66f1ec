"""Explainability of the classifiers: Grad-CAM overlays and squeeze-and-excitation channel weights."""

from mamba_monai.visualize.gradcam import (
    GRADCAM_METHODS,
    compute_gradcam,
    default_target_layer,
    is_channel_last_layer,
)
from mamba_monai.visualize.gradcam_overlays import write_gradcam_overlays
from mamba_monai.visualize.se_weights import (
    plot_se_weights,
    se_channel_weights,
    se_weights_figure,
    write_se_weight_plots,
)

__all__ = [
    "GRADCAM_METHODS",
    "compute_gradcam",
    "default_target_layer",
    "is_channel_last_layer",
    "plot_se_weights",
    "se_channel_weights",
    "se_weights_figure",
    "write_gradcam_overlays",
    "write_se_weight_plots",
]
