"""Patch expanding: the learned 2D upsampling of Swin-UNet / VM-UNet / SliceMamba decoders."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PatchExpand2D"]


class PatchExpand2D(nn.Module):
    """Upsample a channel-last map ``(B, H, W, C)`` by ``scale`` with a linear layer and a pixel shuffle.

    ``Linear(C -> scale * C, bias=False)``, then the ``scale * C`` channels of each position are read as
    ``(p1, p2, c)`` with ``p1, p2 < scale`` and ``c < C / scale`` and spread over a ``scale x scale`` block
    (einops ``"b h w (p1 p2 c) -> b (h p1) (w p2) c"``), then ``LayerNorm(C / scale)``. The output is
    ``(B, scale * H, scale * W, C / scale)``. With ``scale=2`` this is VM-UNet's / SliceMamba's ``PatchExpand2D``
    (channels halve), with ``scale=4`` their ``Final_PatchExpand2D`` (channels quartered).

    Args:
        in_channels: input channels C, divisible by ``scale``.
        scale: upsampling factor per spatial axis.
        norm_layer: normalisation applied to the ``C / scale`` output channels.
    """

    def __init__(self, in_channels: int, scale: int = 2, norm_layer: type[nn.Module] = nn.LayerNorm) -> None:
        super().__init__()
        if scale < 1 or in_channels < scale or in_channels % scale:
            raise ValueError(
                f"PatchExpand2D: in_channels must be a positive multiple of scale, got in_channels={in_channels}, "
                f"scale={scale}"
            )
        self.in_channels, self.scale = in_channels, scale
        self.out_channels = in_channels // scale
        self.expand = nn.Linear(in_channels, scale * in_channels, bias=False)
        self.norm = norm_layer(self.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, scale * H, scale * W, C / scale)."""
        if x.dim() != 4 or x.shape[-1] != self.in_channels:
            raise ValueError(
                f"PatchExpand2D expects channel-last input (B, H, W, {self.in_channels}), got {tuple(x.shape)}"
            )
        b, h, w, _ = x.shape
        p = self.scale
        x = self.expand(x).reshape(b, h, w, p, p, self.out_channels)
        x = x.permute(0, 1, 3, 2, 4, 5).reshape(b, h * p, w * p, self.out_channels)
        return self.norm(x)
