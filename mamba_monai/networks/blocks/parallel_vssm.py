"""Parallel visual state-space module: channel groups through one shared SS2D mixer."""

from __future__ import annotations

import torch
from torch import nn

from mamba_monai.networks.blocks.ss2d_psffn import SS2DPSFFN

__all__ = ["ParallelVSSM"]


class ParallelVSSM(nn.Module):
    """Microscopic-Mamba's parallel visual state-space module (the original's ``PVMLayer``), channel-last.

    The input is layer-normalised and split into ``num_groups`` channel groups; every group goes through the same
    :class:`SS2DPSFFN` mixer (shared weights; the groups are run as one batch) and gets a learnable multiple of
    itself added (``skip_scale``, one scalar shared by the groups); the groups are concatenated and normalised again
    by the *same* LayerNorm. The original also builds a linear ``proj`` that its forward never calls; it is not built
    here.

    Args:
        channels: channels C in and out; divisible by ``num_groups``.
        num_groups: number of channel groups; the mixer works on ``C // num_groups`` channels.
        d_state: SSM state size of the mixer.
        d_conv: kernel size of the mixer's depthwise conv.
        expand: expansion of the mixer (d_inner = expand * C // num_groups).
        dropout: dropout inside the mixer, after its PSFFN.
        psffn_transpose_hw: reproduce the original's H/W swap in the PSFFN (square maps only); see :class:`PSFFN`.
    """

    def __init__(
        self,
        channels: int,
        num_groups: int = 4,
        d_state: int = 16,
        d_conv: int = 3,
        expand: float = 2,
        dropout: float = 0.0,
        psffn_transpose_hw: bool = False,
    ) -> None:
        super().__init__()
        if num_groups < 1 or channels % num_groups:
            raise ValueError(f"ParallelVSSM: channels ({channels}) must be divisible by num_groups ({num_groups})")
        self.channels, self.num_groups = channels, num_groups
        self.norm = nn.LayerNorm(channels)
        self.mamba = SS2DPSFFN(
            channels // num_groups,
            d_state=d_state,
            d_conv=d_conv,
            expand=expand,
            dropout=dropout,
            psffn_transpose_hw=psffn_transpose_hw,
        )
        self.skip_scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, H, W, C) -> (batch, H, W, C)."""
        if x.dim() != 4 or x.shape[-1] != self.channels:
            raise ValueError(
                f"ParallelVSSM expects channel-last input (batch, H, W, {self.channels}), got {tuple(x.shape)}"
            )
        groups = torch.cat(self.norm(x).chunk(self.num_groups, dim=-1), dim=0)  # (num_groups * batch, H, W, C / g)
        out = self.mamba(groups) + self.skip_scale * groups
        return self.norm(torch.cat(out.chunk(self.num_groups, dim=0), dim=-1))
