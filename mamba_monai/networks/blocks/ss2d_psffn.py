"""SS2D with a PSFFN output projection and a residual connection, the mixer of Microscopic-Mamba."""

from __future__ import annotations

import torch

from mamba_monai.networks.blocks.psffn import PSFFN
from mamba_monai.networks.blocks.scan_orders import ScanOrder
from mamba_monai.networks.blocks.ss2d import SS2D

__all__ = ["SS2DPSFFN"]


class SS2DPSFFN(SS2D):
    """Microscopic-Mamba's SS2D: :class:`SS2D` whose output projection is a :class:`PSFFN`, plus its input.

    Everything up to the gate is SS2D (in_proj, depthwise conv + SiLU, selective scan over the scan order's
    directions, merge, out_norm, ``* silu(z)``); then ``out_proj`` is a channel-last :class:`PSFFN` from ``d_inner``
    to ``d_model`` channels instead of a linear layer, dropout follows, and the input is added back:
    ``out = dropout(PSFFN(y)) + x``. The original also builds a linear ``out_proj`` that its forward never calls;
    it is not built here.

    Args:
        d_model: channels in and out.
        d_state: SSM state size per channel.
        d_conv: kernel size of the depthwise conv.
        expand: d_inner = expand * d_model.
        dt_rank: rank of the time-step projection; "auto" = ceil(d_model / 16).
        dropout: dropout after the PSFFN.
        conv_bias: bias in the depthwise conv.
        bias: bias in ``in_proj``.
        scan_order: how the map becomes sequences; default VMamba's 4-direction cross-scan.
        partial_ratio: fraction of the PSFFN's channels that go through its depthwise conv.
        psffn_transpose_hw: reproduce the original's swap of H and W in the PSFFN output (square maps only), for
            weights trained with it; see :class:`PSFFN`.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 3,
        expand: float = 2,
        dt_rank: int | str = "auto",
        dropout: float = 0.0,
        conv_bias: bool = True,
        bias: bool = False,
        scan_order: ScanOrder | None = None,
        partial_ratio: float = 0.25,
        psffn_transpose_hw: bool = False,
    ) -> None:
        super().__init__(
            d_model,
            d_state=d_state,
            d_conv=d_conv,
            expand=expand,
            dt_rank=dt_rank,
            dropout=dropout,
            conv_bias=conv_bias,
            bias=bias,
            scan_order=scan_order,
            out_proj=PSFFN(
                int(expand * d_model), d_model, partial_ratio, channels_last=True, transpose_hw=psffn_transpose_hw
            ),
        )
        self.psffn_transpose_hw = psffn_transpose_hw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, H, W, d_model) -> (batch, H, W, d_model); H == W when ``psffn_transpose_hw``."""
        if self.psffn_transpose_hw and x.dim() == 4 and x.shape[1] != x.shape[2]:
            raise ValueError(
                f"SS2DPSFFN with psffn_transpose_hw=True swaps H and W as the original does, so it needs square "
                f"maps (H == W), got (batch, H, W, C) = {tuple(x.shape)}"
            )
        return super().forward(x) + x
