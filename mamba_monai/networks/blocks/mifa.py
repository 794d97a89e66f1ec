"""MIFA: Microscopic-Mamba's fusion of a local (conv) and a global (state-space) feature map."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mamba_monai.networks.blocks.eca import DepthwiseECA

__all__ = ["MIFA"]


class MIFA(nn.Module):
    """Multi-level information fusion of Microscopic-Mamba (Zou et al., 2024).

    One depthwise 3x3 conv, shared by both inputs, turns each into a gate: ``gate_local = sigmoid(relu(dw(local)))``,
    ``gate_global = sigmoid(gelu(dw(global)))``. Each gate scales the *other* map; the two products
    ``[gate_local * global, gate_global * local]`` are concatenated (2C channels), channel-shuffled with ``C // 2``
    groups and weighted by a :class:`DepthwiseECA` channel attention (kernel size 1).

    Args:
        channels: channels C of each input; even. The output has 2C channels.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels < 2 or channels % 2:
            raise ValueError(f"MIFA: channels must be even and >= 2 (shuffled in C // 2 groups), got {channels}")
        self.channels = channels
        self.dw_conv = nn.Conv2d(channels, channels, kernel_size=3, padding=1, groups=channels)
        self.attention = DepthwiseECA(2 * channels, kernel_size=1)

    def forward(self, local: torch.Tensor, global_: torch.Tensor) -> torch.Tensor:
        """Fuse two (B, C, H, W) maps into one (B, 2C, H, W) map."""
        if local.shape != global_.shape or local.dim() != 4 or local.shape[1] != self.channels:
            raise ValueError(
                f"MIFA expects two (B, {self.channels}, H, W) maps of the same shape, "
                f"got {tuple(local.shape)} and {tuple(global_.shape)}"
            )
        gate_local = torch.sigmoid(F.relu(self.dw_conv(local)))
        gate_global = torch.sigmoid(F.gelu(self.dw_conv(global_)))
        fused = torch.cat([gate_local * global_, gate_global * local], dim=1)
        return self.attention(F.channel_shuffle(fused, self.channels // 2))
