"""BraTS label map -> the three nested evaluation regions (TC, WT, ET) as float channels."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import ConvertToMultiChannelBasedOnBratsClasses, MapTransform, Transform
from monai.utils import TransformBackends

from mamba_monai.data.brats import BRATS_CODINGS, brats_coding
from mamba_monai.data.transforms.source_name import source_name

__all__ = ["ConvertBratsLabels", "ConvertBratsLabelsd"]


class ConvertBratsLabels(Transform):
    """Convert a BraTS label map to 3 float32 channels: TC (tumour core), WT (whole tumour), ET (enhancing tumour).

    TC = NCR ∪ ET, WT = NCR ∪ ED ∪ ET, ET = enhancing tumour, where the ET label is 4 in the ``"2021"`` coding
    (BraTS 2018-2022) and 3 in the ``"2023"`` coding. The region logic is MONAI's
    ``ConvertToMultiChannelBasedOnBratsClasses``; this transform adds a check of the label values (a wrong coding
    would otherwise silently drop the enhancing tumour) and returns float32, which ``DiceLoss`` of MONAI 1.6 needs
    as a target. MetaTensor metadata is kept.

    Args:
        coding: ``"2021"`` (labels 0, 1, 2, 4) or ``"2023"`` (labels 0, 1, 2, 3).

    Raises:
        ValueError: the label holds values outside the coding (the message names the file when known), or has
            more than one channel.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, coding: str | int = "2021") -> None:
        self.coding = brats_coding(coding)
        self.et_label = BRATS_CODINGS[self.coding]["ET"]
        self.converter = ConvertToMultiChannelBasedOnBratsClasses(et_label=self.et_label)

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """(1, H, W, D) or (H, W, D) label map -> (3, H, W, D) float32 (TC, WT, ET)."""
        if img.ndim == 4 and img.shape[0] != 1:
            raise ValueError(
                f"{type(self).__name__}: label {source_name(img)} has {img.shape[0]} channels, expected one label map"
            )
        allowed = {0, *BRATS_CODINGS[self.coding].values()}
        values = img.as_subclass(torch.Tensor) if isinstance(img, torch.Tensor) else np.asarray(img)
        valid = values == 0  # a cheap check first; the values found are only needed for the message
        for value in allowed - {0}:
            valid |= values == value
        if not bool(valid.all()):
            found = torch.unique(values).tolist() if isinstance(values, torch.Tensor) else np.unique(values).tolist()
            unexpected = [v for v in found if v not in allowed]
            other = "2023" if self.coding == "2021" else "2021"
            hint = ""
            if set(found) <= {0, *BRATS_CODINGS[other].values()}:
                hint = f"; these are the labels of the '{other}' coding, use coding='{other}'"
            raise ValueError(
                f"{type(self).__name__}: label {source_name(img)} has values {_pretty(unexpected)} outside the BraTS "
                f"'{self.coding}' coding {sorted(allowed)} (values found: {_pretty(found)}){hint}"
            )
        regions = self.converter(img)
        return regions.to(torch.float32) if isinstance(regions, torch.Tensor) else regions.astype(np.float32)


class ConvertBratsLabelsd(MapTransform):
    """Dictionary-based :class:`ConvertBratsLabels`.

    Args:
        keys: keys of the label maps to convert.
        coding: ``"2021"`` (ET = 4) or ``"2023"`` (ET = 3).
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = ConvertBratsLabels.backend

    def __init__(self, keys: KeysCollection, coding: str | int = "2021", allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.converter = ConvertBratsLabels(coding)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.converter(d[key])
        return d


def _pretty(values: list) -> list:
    return [int(v) if float(v).is_integer() else v for v in values]
