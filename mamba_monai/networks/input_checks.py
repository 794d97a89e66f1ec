"""Up-front checks of network inputs, with messages that give the rule."""

from __future__ import annotations

import torch

__all__ = ["check_image_2d"]


def check_image_2d(name: str, x: torch.Tensor, in_channels: int, size_divisor: int, why: str) -> None:
    """Raise ValueError unless ``x`` is (batch, in_channels, H, W) with H, W positive multiples of ``size_divisor``.

    Skipped while tracing (shapes are constants there).

    Args:
        name: network name for the message.
        x: the input batch.
        in_channels: expected channels.
        size_divisor: H and W must be multiples of it (the network's total downsampling).
        why: where the divisor comes from, e.g. "patch embedding stride 4 and 3 patch mergings".
    """
    if torch.jit.is_tracing():
        return
    if x.dim() != 4 or x.shape[1] != in_channels:
        raise ValueError(
            f"{name} expects (batch, {in_channels}, H, W) images (in_channels={in_channels}), got shape {tuple(x.shape)}"
        )
    h, w = x.shape[2:]
    k = size_divisor
    if h < k or w < k:
        raise ValueError(
            f"{name}: input size (H, W) = ({h}, {w}) is too small: the minimum is {k} x {k} ({why}); "
            f"H and W must be multiples of {k}"
        )
    if h % k or w % k:
        raise ValueError(
            f"{name}: input size (H, W) = ({h}, {w}) is not supported: H and W must be multiples of {k} ({why}), "
            f"e.g. ({h // k * k}, {w // k * k})"
        )
