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
from mamba_monai.data.channel_stats import channel_statistics, ensure_dataset_stats
from mamba_monai.data.classification import (
    CLASSIFICATION_SPLITS,
    ensure_classification_datalist,
    load_classification_classes,
    load_classification_datalist,
    make_classification_datalist,
)
from mamba_monai.data.image_inputs import image_inputs
from mamba_monai.data.input_checks import check_image_2d, ensure_writable_dir, usable_images
from mamba_monai.data.image_io import (
    IMAGE_EXTENSIONS,
    LUMA_WEIGHTS,
    Image2DInfo,
    image_2d_to_unit_chw,
    image_format,
    is_image_file,
    load_image_2d,
    read_image_2d,
    read_image_2d_info,
    to_unit_range,
)
from mamba_monai.data.lesion import (
    LESION_LAYOUTS,
    LESION_SPLITS,
    ensure_lesion_datalist,
    find_lesion_pairs,
    make_lesion_datalist,
)
from mamba_monai.data.splits import require_items, split_indices, split_sizes

__all__ = [
    "require_items",
    "channel_statistics",
    "ensure_dataset_stats",
    "image_inputs",
    "check_image_2d",
    "ensure_writable_dir",
    "usable_images",
    "LESION_LAYOUTS",
    "LESION_SPLITS",
    "ensure_lesion_datalist",
    "find_lesion_pairs",
    "make_lesion_datalist",
    "CLASSIFICATION_SPLITS",
    "IMAGE_EXTENSIONS",
    "LUMA_WEIGHTS",
    "Image2DInfo",
    "ensure_classification_datalist",
    "image_2d_to_unit_chw",
    "image_format",
    "is_image_file",
    "load_classification_classes",
    "load_classification_datalist",
    "load_image_2d",
    "make_classification_datalist",
    "read_image_2d",
    "read_image_2d_info",
    "to_unit_range",
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
