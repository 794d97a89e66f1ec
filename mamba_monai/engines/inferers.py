"""Inferers MONAI lacks: mirror test-time augmentation around any inferer."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from monai.inferers import Inferer

__all__ = ["MirrorTTAInferer"]


class MirrorTTAInferer(Inferer):
    """Mirror test-time augmentation (as nnU-Net): average the logits of every combination of flips.

    With ``spatial_axes=(0, 1, 2)`` the wrapped inferer runs 8 times (no flip, each axis, each pair, all three);
    each prediction is flipped back before averaging. ``enabled=False`` runs the wrapped inferer once, so a config can
    switch TTA with one flag.

    Args:
        inferer: the inferer to wrap (e.g. ``SlidingWindowInferer``).
        spatial_axes: spatial axes (0 = first axis after the channel) to mirror.
        enabled: apply the augmentation.
    """

    def __init__(self, inferer: Inferer, spatial_axes: Sequence[int] = (0, 1, 2), enabled: bool = True) -> None:
        super().__init__()
        self.inferer = inferer
        self.spatial_axes = tuple(int(a) for a in spatial_axes)
        self.enabled = enabled

    def __call__(self, inputs: torch.Tensor, network, *args, **kwargs):
        if not self.enabled or not self.spatial_axes:
            return self.inferer(inputs, network, *args, **kwargs)
        bad = [a for a in self.spatial_axes if not 0 <= a < inputs.dim() - 2]
        if bad:
            raise ValueError(
                f"MirrorTTAInferer: spatial axes {bad} do not exist for input of shape {tuple(inputs.shape)}"
            )
        total, count = None, 0
        for k in range(len(self.spatial_axes) + 1):
            for axes in itertools.combinations(self.spatial_axes, k):
                dims = [a + 2 for a in axes]
                flipped = torch.flip(inputs, dims) if dims else inputs
                pred = self.inferer(flipped, network, *args, **kwargs)
                pred = torch.flip(pred, dims) if dims else pred
                total = pred if total is None else total + pred
                count += 1
        return total / count
