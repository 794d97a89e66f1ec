"""MONAI-style transforms for the data sets of mamba-monai (array and dictionary versions)."""

from mamba_monai.data.transforms.brats_labels_to_regions import ConvertBratsLabels, ConvertBratsLabelsd
from mamba_monai.data.transforms.brats_regions_to_labels import (
    BratsNestedRegions,
    BratsNestedRegionsd,
    BratsRegionsToLabels,
    BratsRegionsToLabelsd,
)
from mamba_monai.data.transforms.check_brats_image import CheckBratsImage, CheckBratsImaged
from mamba_monai.data.transforms.load_image_2d import LoadImage2D, LoadImage2Dd
from mamba_monai.data.transforms.resize_shorter_side import ResizeShorterSide, ResizeShorterSided
from mamba_monai.data.transforms.source_name import source_file, source_name, source_stem

__all__ = [
    "BratsNestedRegions",
    "BratsNestedRegionsd",
    "BratsRegionsToLabels",
    "BratsRegionsToLabelsd",
    "CheckBratsImage",
    "CheckBratsImaged",
    "ConvertBratsLabels",
    "ConvertBratsLabelsd",
    "LoadImage2D",
    "LoadImage2Dd",
    "ResizeShorterSide",
    "ResizeShorterSided",
    "source_file",
    "source_name",
    "source_stem",
]
