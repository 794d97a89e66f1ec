"""PSFFN: Microscopic-Mamba's partially selected feed-forward network."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PSFFN"]


class PSFFN(nn.Module):
    """Partially selected feed-forward network of Microscopic-Mamba (Zou et al., 2024).

    A 1x1 conv maps ``in_channels`` to ``out_channels`` (+ SiLU); only the first ``int(out_channels * partial_ratio)``
    channels then go through a 3x3 depthwise conv (+ SiLU), the others pass unchanged; the two parts are concatenated
    and channel-shuffled with ``out_channels // 2`` groups (even channels first, then odd ones). In Microscopic-Mamba
    it takes the place of the output projection of SS2D (see :class:`SS2DPSFFN`).

    The original permutes the map with the height and width axes swapped before its shuffle (``permute(0, 3, 2, 1)``
    on a ``(B, C, H, W)`` map) and never swaps them back, so its output is the transposed map ``(B, C, W, H)``: this
    only runs when ``H == W`` and then mirrors the map about its diagonal. Here the output keeps the input's layout;
    ``transpose_hw=True`` reproduces the original's transposition, for weights trained with it.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output; even, so that the shuffle has ``out_channels // 2`` groups of two.
        partial_ratio: fraction of the output channels that go through the depthwise conv (the original's
            ``p_rate``); at least one channel must be selected.
        channels_last: input and output are ``(B, H, W, C)`` instead of ``(B, C, H, W)``.
        transpose_hw: swap the two spatial axes of the output, as the original code does.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        partial_ratio: float = 0.25,
        channels_last: bool = False,
        transpose_hw: bool = False,
    ) -> None:
        super().__init__()
        if out_channels < 2 or out_channels % 2:
            raise ValueError(f"PSFFN: out_channels must be even and >= 2 (shuffled in pairs), got {out_channels}")
        self.partial_channels = int(out_channels * partial_ratio)
        if not 1 <= self.partial_channels <= out_channels:
            raise ValueError(
                f"PSFFN: partial_ratio {partial_ratio} selects {self.partial_channels} of {out_channels} channels; "
                f"it must select between 1 and all of them"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.channels_last, self.transpose_hw = channels_last, transpose_hw
        self.conv_0 = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.conv_1 = nn.Conv2d(
            self.partial_channels, self.partial_channels, kernel_size=3, padding=1, groups=self.partial_channels
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> (B, out_channels, H, W); channel-last or transposed as configured."""
        channel_axis = -1 if self.channels_last else 1
        if x.dim() != 4 or x.shape[channel_axis] != self.in_channels:
            layout = "(B, H, W, C)" if self.channels_last else "(B, C, H, W)"
            raise ValueError(f"PSFFN expects a {layout} map with C = {self.in_channels}, got shape {tuple(x.shape)}")
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        x = F.silu(self.conv_0(x))
        selected, passed = x.split([self.partial_channels, self.out_channels - self.partial_channels], dim=1)
        x = torch.cat([F.silu(self.conv_1(selected)), passed], dim=1)
        x = F.channel_shuffle(x, self.out_channels // 2)
        if self.transpose_hw:
            x = x.transpose(2, 3)
        if self.channels_last:
            x = x.permute(0, 2, 3, 1)
        return x
