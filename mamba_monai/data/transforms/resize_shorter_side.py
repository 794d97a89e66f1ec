"""Resize so that the shorter spatial side has a given length, keeping the aspect ratio (torchvision's ``Resize(n)``).

MONAI's ``Resize`` offers ``size_mode="longest"`` only; ImageNet-style recipes (SE-ResNeXt transfer learning) resize the
shorter side before a centre crop.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from monai.config import KeysCollection
from monai.transforms import MapTransform, Resize, Transform

__all__ = ["ResizeShorterSide", "ResizeShorterSided"]


class ResizeShorterSide(Transform):
    """Resize a channel-first image so its shorter spatial side becomes ``size`` (each side rounded, at least 1).

    Args:
        size: length of the shorter side after resizing.
        mode: interpolation mode of MONAI's ``Resize``.
        anti_aliasing: smooth before downsampling (MONAI's ``Resize``).
    """

    def __init__(self, size: int, mode: str = "bilinear", anti_aliasing: bool = True) -> None:
        if int(size) < 1:
            raise ValueError(f"ResizeShorterSide: size must be a positive integer, got {size!r}")
        self.size, self.mode, self.anti_aliasing = int(size), mode, anti_aliasing

    def __call__(self, image: Any) -> Any:
        spatial = image.shape[1:]
        shape = [max(1, round(side * self.size / min(spatial))) for side in spatial]
        return Resize(shape, mode=self.mode, anti_aliasing=self.anti_aliasing)(image)


class ResizeShorterSided(MapTransform):
    """Dictionary version of :class:`ResizeShorterSide`.

    Args:
        keys: the items to resize.
        size: length of the shorter side after resizing.
        mode: interpolation mode of MONAI's ``Resize``.
        anti_aliasing: smooth before downsampling.
        allow_missing_keys: don't raise for absent keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        size: int,
        mode: str = "bilinear",
        anti_aliasing: bool = True,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.resize = ResizeShorterSide(size, mode, anti_aliasing)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.resize(d[key])
        return d
