"""Reproduce timm's SE-ResNeXt stem pooling in MONAI's ``SENet``, for weights converted from timm.

MONAI's ``SENet`` (like Cadene's pretrainedmodels, whose weights it was written for) max-pools the stem with a 3x3
window, stride 2, ``ceil_mode=True`` and no padding; timm's ResNet family pads by 1 instead. The weights fit both,
but the pooled windows are shifted by one pixel, so a timm checkpoint gives different outputs in MONAI's network
(about 5% of the logits' scale with random weights). Fine-tuning absorbs the difference; to compute exactly as timm
does, e.g. to check a conversion or to use timm's ImageNet features unchanged, swap the pooling::

    "network": "$mamba_monai.convert.use_timm_stem_pool(@network_def).to(@device)"
"""

from __future__ import annotations

from torch import nn

__all__ = ["use_timm_stem_pool"]


def use_timm_stem_pool(network: nn.Module) -> nn.Module:
    """Replace the stem max-pooling of a MONAI ``SENet`` (``layer0.pool``) by timm's (3x3, stride 2, padding 1), in
    place; returns ``network``.

    Args:
        network: a ``monai.networks.nets.SENet`` (e.g. ``SEResNext50``) with 2 or 3 spatial dims.

    Raises:
        ValueError: ``network`` has no ``layer0.pool`` max-pooling.
    """
    stem = getattr(network, "layer0", None)
    pool = getattr(stem, "pool", None)
    pool_types = {nn.MaxPool1d: nn.MaxPool1d, nn.MaxPool2d: nn.MaxPool2d, nn.MaxPool3d: nn.MaxPool3d}
    if type(pool) not in pool_types:
        raise ValueError(
            f"use_timm_stem_pool: expected a MONAI SENet with a max-pooling at layer0.pool, got "
            f"{type(network).__name__} with {type(pool).__name__}"
        )
    stem.pool = pool_types[type(pool)](kernel_size=3, stride=2, padding=1)
    return network
