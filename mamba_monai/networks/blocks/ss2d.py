"""SS2D: the 2D selective-scan mixer of VMamba, MedMamba and SliceMamba, generic over the scan order."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mamba_monai.networks.blocks.scan_orders import CrossScan2D, ScanOrder
from mamba_monai.networks.blocks.selective_ssm import MultiDirectionSSM

__all__ = ["SS2D"]


class SS2D(nn.Module):
    """2D selective-scan mixer on channel-last maps (batch, H, W, C).

    ``in_proj`` splits into x and a gate z; x goes through a depthwise conv and SiLU, is unrolled into K sequences by
    the scan order, each direction runs its own selective SSM (one op call for all), the directions are merged back
    (summed), normalised (``out_norm``), gated by silu(z) and projected (``out_proj``). With the default
    :class:`CrossScan2D` this is VMamba's / MedMamba's SS2D; with ``SliceScan2D`` it is SliceMamba's BSS mixer.

    Args:
        d_model: channels in and out.
        d_state: SSM state size per channel.
        d_conv: kernel size of the depthwise conv.
        expand: d_inner = expand * d_model.
        dt_rank: rank of the time-step projection; "auto" = ceil(d_model / 16).
        dt_min: smallest initial time step.
        dt_max: largest initial time step.
        dt_init_floor: lower bound of the initial time step.
        dropout: dropout after ``out_proj``.
        conv_bias: bias in the depthwise conv.
        bias: bias in ``in_proj`` and ``out_proj``.
        scan_order: how the map becomes sequences; default VMamba's 4-direction cross-scan.
        out_proj: module mapping the gated (batch, H, W, d_inner) map to d_model channels; default a Linear layer
            (Microscopic-Mamba passes a PSFFN).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 3,
        expand: float = 2,
        dt_rank: int | str = "auto",
        dt_min: float = 1e-3,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        dropout: float = 0.0,
        conv_bias: bool = True,
        bias: bool = False,
        scan_order: ScanOrder | None = None,
        out_proj: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.scan_order = scan_order if scan_order is not None else CrossScan2D()
        if self.scan_order.spatial_dims != 2:
            raise ValueError(f"SS2D needs a 2D scan order, got {self.scan_order!r}")
        self.d_model = d_model
        self.d_inner = int(expand * d_model)
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        self.conv2d = nn.Conv2d(
            self.d_inner, self.d_inner, d_conv, padding=(d_conv - 1) // 2, groups=self.d_inner, bias=conv_bias
        )
        self.ssm = MultiDirectionSSM(
            self.d_inner, self.scan_order.num_directions, d_state, self.dt_rank, dt_min, dt_max, dt_init_floor
        )
        self.out_norm = nn.LayerNorm(self.d_inner)
        self.out_proj = out_proj if out_proj is not None else nn.Linear(self.d_inner, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, H, W, d_model) -> (batch, H, W, d_model)."""
        if x.dim() != 4 or x.shape[-1] != self.d_model:
            raise ValueError(f"SS2D expects channel-last input (batch, H, W, {self.d_model}), got {tuple(x.shape)}")
        x, z = self.in_proj(x).chunk(2, dim=-1)
        x = F.silu(self.conv2d(x.permute(0, 3, 1, 2)))
        spatial = x.shape[2:]
        y = self.scan_order.merge(self.ssm(self.scan_order.flatten(x)), spatial)
        y = self.out_norm(y.permute(0, 2, 3, 1)) * F.silu(z)
        return self.dropout(self.out_proj(y))
