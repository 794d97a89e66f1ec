"""Datalists, splits, synthetic data sets and transforms."""

from mamba_monai.data import synthetic, transforms
from mamba_monai.data.brats import (
    BRATS_CHANNEL_NAMES,
    BRATS_CHANNELS,
    BRATS_CODINGS,
    BRATS_NAMINGS,
    brats_coding,
    brats_file_name,
    detect_brats_coding,
    find_brats_cases,
    make_brats_datalist,
)
from mamba_monai.data.brats_inputs import brats_inference_inputs, brats_output_name, ensure_brats_datalist
from mamba_monai.data.splits import split_indices, split_sizes

__all__ = [
    "BRATS_CHANNELS",
    "BRATS_CHANNEL_NAMES",
    "BRATS_CODINGS",
    "BRATS_NAMINGS",
    "brats_coding",
    "brats_inference_inputs",
    "brats_output_name",
    "brats_file_name",
    "detect_brats_coding",
    "ensure_brats_datalist",
    "find_brats_cases",
    "make_brats_datalist",
    "split_indices",
    "split_sizes",
    "synthetic",
    "transforms",
]
