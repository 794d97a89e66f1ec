"""The 3D Mamba mixer of SegMamba (tri-oriented: forward, reverse, inter-slice), generic over the scan order."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mamba_monai.networks.blocks.scan_orders import ScanOrder, TriOrientedScan3D
from mamba_monai.networks.blocks.selective_ssm import MultiDirectionSSM

__all__ = ["Mamba3DMixer"]


class Mamba3DMixer(nn.Module):
    """Mamba mixer over K scan directions of a channel-last volume (batch, D, H, W, C) (or any spatial rank).

    As SegMamba's Mamba "v3": one ``in_proj`` (to x and gate z) and one ``out_proj`` shared by the directions; each
    direction has its own causal depthwise conv1d (kernel ``d_conv``) on its sequence, SiLU, and selective SSM. The
    directions are merged (summed) in the original voxel order and gated by silu(z), which equals SegMamba's gating
    inside each branch followed by the sum.

    Unlike the original, the inter-slice direction follows the actual size of the first spatial axis (the scan order
    decides), so any patch size works.

    Args:
        d_model: channels in and out.
        d_state: SSM state size per channel.
        d_conv: kernel size of the causal depthwise conv1d.
        expand: d_inner = expand * d_model.
        dt_rank: rank of the time-step projection; "auto" = ceil(d_model / 16).
        dt_min: smallest initial time step.
        dt_max: largest initial time step.
        dt_init_floor: lower bound of the initial time step.
        conv_bias: bias in the conv1d.
        bias: bias in ``in_proj`` and ``out_proj``.
        scan_order: directions; default SegMamba's :class:`TriOrientedScan3D`.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: float = 2,
        dt_rank: int | str = "auto",
        dt_min: float = 1e-3,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        conv_bias: bool = True,
        bias: bool = False,
        scan_order: ScanOrder | None = None,
    ) -> None:
        super().__init__()
        self.scan_order = scan_order if scan_order is not None else TriOrientedScan3D()
        self.d_model = d_model
        self.d_inner = int(expand * d_model)
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        k = self.scan_order.num_directions
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        # one depthwise conv per direction = one grouped conv over the K * d_inner folded channels
        self.conv1d = nn.Conv1d(
            k * self.d_inner, k * self.d_inner, d_conv, groups=k * self.d_inner, padding=d_conv - 1, bias=conv_bias
        )
        self.ssm = MultiDirectionSSM(self.d_inner, k, d_state, self.dt_rank, dt_min, dt_max, dt_init_floor)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, *spatial, d_model) -> same shape."""
        if x.dim() != self.scan_order.spatial_dims + 2 or x.shape[-1] != self.d_model:
            raise ValueError(
                f"Mamba3DMixer expects channel-last input (batch, *spatial[{self.scan_order.spatial_dims}], "
                f"{self.d_model}), got {tuple(x.shape)}"
            )
        batch, spatial = x.shape[0], x.shape[1:-1]
        length = math.prod(spatial)
        # in_proj as W @ x^T: the GEMM writes channel-first (batch, 2 * d_inner, L) directly, so the scan orders and
        # the gate read contiguous maps (Linear + movedim would leave channel-last strides, copied later)
        xz = _linear_channel_first(x.reshape(batch, length, self.d_model), self.in_proj)
        x, z = xz.view(batch, 2 * self.d_inner, *spatial).chunk(2, dim=1)  # each (batch, d_inner, *spatial)
        xs = self.scan_order.flatten(x)  # (batch, K, d_inner, L)
        k, d = xs.shape[1:3]
        xs = self.conv1d(xs.reshape(batch, k * d, length))[..., :length]  # causal: drop the right padding
        ys = self.ssm(F.silu(xs).view(batch, k, d, length))
        y = self.scan_order.merge(ys, spatial) * F.silu(z)  # (batch, d_inner, *spatial), contiguous
        # out_proj on the transposed view: the GEMM reads it in place and writes channel-last tokens
        return self.out_proj(y.reshape(batch, self.d_inner, length).transpose(1, 2)).view(batch, *spatial, -1)


def _linear_channel_first(tokens: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """``linear(tokens).transpose(1, 2)`` for ``tokens`` (batch, L, in), as one GEMM writing (batch, out, L)."""
    out = torch.matmul(linear.weight, tokens.transpose(1, 2))
    return out if linear.bias is None else out + linear.bias[:, None]
