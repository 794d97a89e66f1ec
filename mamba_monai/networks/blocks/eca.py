"""Efficient channel attention with one kernel per channel, as Microscopic-Mamba's MIFA uses it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DepthwiseECA"]


class DepthwiseECA(nn.Module):
    """Channel attention from each channel's mean and its neighbours', with a separate 1D kernel per channel.

    ``gate_c = sigmoid(sum_j w[c, j] * mean_{c + j - (k - 1) / 2})`` (zero outside the channel range), ``out = x *
    gate``. This is the ``eca_layer`` of Microscopic-Mamba: unlike ECA-Net (``timm.layers.EcaModule``), whose one
    kernel of size k is shared by all channels (k weights), the weights here are a depthwise ``Conv1d`` (C * k
    weights; ``kernel_size=1`` gives one learnable scale per channel).

    Args:
        channels: number of channels C.
        kernel_size: odd number of neighbouring channels each gate looks at.
    """

    def __init__(self, channels: int, kernel_size: int = 1) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"DepthwiseECA: kernel_size must be a positive odd number, got {kernel_size}")
        self.channels, self.kernel_size = channels, kernel_size
        self.conv = nn.Conv1d(channels, channels, kernel_size, groups=channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, *spatial) -> same shape, each channel scaled by its gate."""
        if x.dim() < 3 or x.shape[1] != self.channels:
            raise ValueError(f"DepthwiseECA expects (B, {self.channels}, *spatial), got shape {tuple(x.shape)}")
        pad = (self.kernel_size - 1) // 2
        means = x.mean(dim=tuple(range(2, x.dim())))  # (B, C)
        neighbours = F.pad(means, (pad, pad)).unfold(1, self.kernel_size, 1)  # (B, C, k): channels c-pad .. c+pad
        gate = torch.sigmoid(self.conv(neighbours))  # (B, C, 1)
        return x * gate.view(*gate.shape[:2], *([1] * (x.dim() - 2)))
