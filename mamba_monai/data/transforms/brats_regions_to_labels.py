"""The three BraTS evaluation regions (TC, WT, ET) -> one label map in a BraTS coding."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, convert_to_dst_type

from mamba_monai.data.brats import BRATS_CODINGS, brats_coding
from mamba_monai.data.transforms.source_name import source_name

__all__ = ["BratsNestedRegions", "BratsNestedRegionsd", "BratsRegionsToLabels", "BratsRegionsToLabelsd"]


def _region_masks(img: NdarrayOrTensor, threshold: float, who: str) -> torch.Tensor:
    """Boolean (3, ...) masks (TC, WT, ET) of ``img``; a clear error naming the file for any other shape."""
    if img.ndim < 2 or img.shape[0] != 3:
        raise ValueError(
            f"{who}: {source_name(img)} has shape {tuple(img.shape)}, expected 3 region channels (TC, WT, ET) first"
        )
    return torch.as_tensor(img).as_subclass(torch.Tensor) > threshold


class BratsRegionsToLabels(Transform):
    """Convert 3-channel region masks (TC, WT, ET), e.g. a thresholded sigmoid output, to a BraTS label map.

    ET -> 4 (``"2021"`` coding) or 3 (``"2023"``), TC without ET -> 1 (NCR), WT without TC -> 2 (ED), the rest 0.
    Where a prediction is not nested, the innermost region wins (an ET voxel is ET even outside TC). The result is
    a (1, H, W, D) uint8 map; a MetaTensor keeps its metadata (affine, file name), so ``SaveImage`` writes it in the
    input's space (give ``SaveImage`` ``output_dtype=numpy.uint8`` to keep integer labels on disk). Inverse of
    :class:`~mamba_monai.data.transforms.ConvertBratsLabels` for nested regions.

    Args:
        coding: ``"2021"`` (ET = 4) or ``"2023"`` (ET = 3).
        threshold: a voxel belongs to a region when its value is above this (binary masks pass unchanged).
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, coding: str | int = "2021", threshold: float = 0.5) -> None:
        self.coding = brats_coding(coding)
        self.labels = BRATS_CODINGS[self.coding]
        self.threshold = threshold

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """(3, H, W, D) masks (TC, WT, ET) -> (1, H, W, D) uint8 label map, same array type and metadata."""
        masks = _region_masks(img, self.threshold, type(self).__name__)
        label = torch.zeros(masks.shape[1:], dtype=torch.uint8, device=masks.device)
        label[masks[1]] = self.labels["ED"]
        label[masks[0]] = self.labels["NCR"]
        label[masks[2]] = self.labels["ET"]
        dtype = torch.uint8 if isinstance(img, torch.Tensor) else np.uint8
        output, *_ = convert_to_dst_type(label[None], img, dtype=dtype)
        return output


class BratsRegionsToLabelsd(MapTransform):
    """Dictionary-based :class:`BratsRegionsToLabels`.

    Args:
        keys: keys of the 3-channel region masks to convert.
        coding: ``"2021"`` (ET = 4) or ``"2023"`` (ET = 3).
        threshold: a voxel belongs to a region when its value is above this.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = BratsRegionsToLabels.backend

    def __init__(
        self, keys: KeysCollection, coding: str | int = "2021", threshold: float = 0.5, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.converter = BratsRegionsToLabels(coding, threshold)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.converter(d[key])
        return d


class BratsNestedRegions(Transform):
    """Region masks (TC, WT, ET) made nested the way :class:`BratsRegionsToLabels` writes them: ET, TC := TC or ET,
    WT := WT or TC or ET.

    The label map written from non-nested predictions gives an ET voxel outside TC the ET label, and so counts it in
    TC and WT too. Metrics computed on the regions after this transform therefore equal the metrics of the label map
    that inference writes (the BraTS evaluation scores label maps), instead of figures for a segmentation that is never
    written. Regions that are already nested pass unchanged.

    Args:
        threshold: a voxel belongs to a region when its value is above this.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """(3, ...) masks (TC, WT, ET) -> (3, ...) nested masks, same array type and metadata as ``img``."""
        masks = _region_masks(img, self.threshold, type(self).__name__)
        et = masks[2]
        tc = masks[0] | et
        wt = masks[1] | tc
        nested = torch.stack([tc, wt, et]).to(torch.float32)
        output, *_ = convert_to_dst_type(nested, img, dtype=img.dtype)
        return output


class BratsNestedRegionsd(MapTransform):
    """Dictionary version of :class:`BratsNestedRegions`.

    Args:
        keys: keys of the region masks.
        threshold: see :class:`BratsNestedRegions`.
        allow_missing_keys: don't raise if a key is missing.
    """

    backend = BratsNestedRegions.backend

    def __init__(self, keys: KeysCollection, threshold: float = 0.5, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.nest = BratsNestedRegions(threshold)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.nest(d[key])
        return d
