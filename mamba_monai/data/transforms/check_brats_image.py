"""Check a loaded multi-modal BraTS image: channel count, finite voxels."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends

from mamba_monai.data.transforms.source_name import source_name

__all__ = ["CheckBratsImage", "CheckBratsImaged"]


class CheckBratsImage(Transform):
    """Check a channel-first image (after ``LoadImage`` + ``EnsureChannelFirst``) before it reaches a network.

    A wrong number of channels (e.g. three of the four modalities, or a single modality) raises an error naming the
    file; NaN and infinite voxels (seen in some converted scans) are replaced by 0 with one warning naming the file.

    Args:
        num_channels: expected number of channels (4 for BraTS: FLAIR, T1, T1ce, T2).

    Raises:
        ValueError: the image is not (C, H, W, D) or C differs from ``num_channels``.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, num_channels: int = 4) -> None:
        self.num_channels = num_channels

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Return ``img`` unchanged, or with non-finite voxels set to 0."""
        if img.ndim != 4:
            raise ValueError(
                f"{type(self).__name__}: image {source_name(img)} has shape {tuple(img.shape)}, expected a "
                "channel-first 3D image (C, H, W, D): use EnsureChannelFirstd after LoadImaged"
            )
        if img.shape[0] != self.num_channels:
            raise ValueError(
                f"{type(self).__name__}: image {source_name(img)} is a {img.shape[0]}-channel image where "
                f"{self.num_channels} are expected (BraTS: FLAIR, T1, T1ce, T2, as four files or one 4-channel NIfTI)"
            )
        is_tensor = isinstance(img, torch.Tensor)
        finite = torch.isfinite(img) if is_tensor else np.isfinite(img)
        if not finite.all():
            count = int((~finite).sum())
            warnings.warn(
                f"{type(self).__name__}: image {source_name(img)} has {count} NaN/inf voxels; they were set to 0",
                RuntimeWarning,
                stacklevel=2,
            )
            zero = dict(nan=0.0, posinf=0.0, neginf=0.0)
            img = torch.nan_to_num(img, **zero) if is_tensor else np.nan_to_num(img, **zero)
        return img


class CheckBratsImaged(MapTransform):
    """Dictionary-based :class:`CheckBratsImage`.

    Args:
        keys: keys of the images to check.
        num_channels: expected number of channels.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = CheckBratsImage.backend

    def __init__(self, keys: KeysCollection, num_channels: int = 4, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.checker = CheckBratsImage(num_channels)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.checker(d[key])
        return d
