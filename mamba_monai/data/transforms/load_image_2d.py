"""Load a 2D image file (PNG, JPEG, TIFF, DICOM frame...) as a float32 channel-first tensor in [0, 1]."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform

from mamba_monai.data.image_io import image_2d_to_unit_chw, read_image_2d

__all__ = ["LoadImage2D", "LoadImage2Dd"]


class LoadImage2D(Transform):
    """Load a 2D image as a float32 :class:`~monai.data.MetaTensor` shaped (C, H, W) with values in [0, 1].

    Unlike MONAI's ``LoadImage`` with its PIL reader (which gives (W, H) arrays), rows are always the first spatial
    axis, whatever the format: PNG, JPEG, BMP, GIF, WebP, TIFF (8/16-bit, grey/RGB/RGBA, planar) and DICOM (first
    frame of a cine loop). Integer samples are divided by their range (255, 65535, or ``2**BitsStored - 1`` for DICOM),
    alpha is dropped, grey is replicated when ``channels=3``, RGB becomes grey (ITU-R BT.601 weights) when
    ``channels=1``. See :func:`mamba_monai.data.image_io.image_2d_to_unit_chw`.

    The result is already channel-first (``original_channel_dim`` 0 in its meta data), so no ``EnsureChannelFirst``
    is needed; its meta data also hold ``filename_or_obj``, ``spatial_shape`` (H, W), the stored ``format``,
    ``original_channels``, ``original_dtype`` and ``frames``.

    Args:
        channels: 1 (grey), 3 (RGB), or ``None`` to keep the stored channels (1 or 3).
        dtype: floating-point type of the result.

    Raises:
        ValueError: the file does not exist or cannot be read (the message names it).

    Example::

        image = LoadImage2D(channels=3)("plane_0001.png")  # (3, H, W) float32 in [0, 1]
    """

    def __init__(self, channels: int | None = 3, dtype: torch.dtype = torch.float32) -> None:
        if channels not in (None, 1, 3):
            raise ValueError(f"{type(self).__name__}: channels must be 1, 3 or None, got {channels!r}")
        if not dtype.is_floating_point:
            raise ValueError(f"{type(self).__name__}: dtype must be a floating-point type, got {dtype}")
        self.channels = channels
        self.dtype = dtype

    def __call__(self, filename: str | os.PathLike) -> MetaTensor:
        """Load ``filename``."""
        filename = os.fspath(filename)
        array, info = read_image_2d(filename)
        image = image_2d_to_unit_chw(array, info, self.channels, name=filename)
        meta = {
            "filename_or_obj": filename,
            "spatial_shape": (info.height, info.width),
            "original_channel_dim": 0,
            "format": info.format,
            "original_channels": info.channels,
            "original_dtype": info.dtype,
            "frames": info.frames,
        }
        return MetaTensor(torch.from_numpy(image).to(self.dtype), affine=torch.eye(3, dtype=torch.float64), meta=meta)


class LoadImage2Dd(MapTransform):
    """Dictionary-based :class:`LoadImage2D`: replace the file name under each key by the loaded image.

    Args:
        keys: keys of the file names to load.
        channels: 1 (grey), 3 (RGB), or ``None`` to keep the stored channels.
        dtype: floating-point type of the result.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    def __init__(
        self,
        keys: KeysCollection,
        channels: int | None = 3,
        dtype: torch.dtype = torch.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.loader = LoadImage2D(channels=channels, dtype=dtype)

    def __call__(self, data: Mapping[Hashable, str]) -> dict[Hashable, MetaTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.loader(d[key])
        return d
