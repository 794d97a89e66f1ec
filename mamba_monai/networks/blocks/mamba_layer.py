"""SegMamba's residual Mamba layer on channel-first maps: LayerNorm over channels, 3D Mamba mixer, residual."""

from __future__ import annotations

import torch
from torch import nn

from mamba_monai.networks.blocks.mamba3d import Mamba3DMixer
from mamba_monai.networks.blocks.scan_orders import ScanOrder

__all__ = ["MambaLayer"]


class MambaLayer(nn.Module):
    """Pre-norm residual Mamba layer of SegMamba: ``x + Mamba3DMixer(LayerNorm(x))`` on ``(B, C, *spatial)`` maps.

    The layer norm normalises the channels of each voxel (as the original's ``nn.LayerNorm(dim)`` on the flattened
    ``(B, N, C)`` tokens); the mixer scans the voxels in the directions of ``scan_order`` (default SegMamba's
    tri-oriented forward / reverse / inter-slice scan, the inter-slice scan following the actual first spatial
    axis). There is no drop path and no layer scale, as in the original.

    Args:
        dim: channels C in and out.
        d_state: SSM state size per channel.
        d_conv: kernel size of the causal depthwise conv1d of each direction.
        expand: inner width factor of the mixer (d_inner = expand * dim).
        scan_order: scan directions of the mixer; default :class:`TriOrientedScan3D` (3D maps).
    """

    def __init__(
        self,
        dim: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: float = 2,
        scan_order: ScanOrder | None = None,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.norm = nn.LayerNorm(dim)
        self.mixer = Mamba3DMixer(dim, d_state=d_state, d_conv=d_conv, expand=expand, scan_order=scan_order)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, *spatial) -> (B, C, *spatial)."""
        spatial_dims = self.mixer.scan_order.spatial_dims
        if x.dim() != spatial_dims + 2 or x.shape[1] != self.dim:
            raise ValueError(
                f"MambaLayer expects channel-first input (B, {self.dim}, *spatial[{spatial_dims}]), "
                f"got {tuple(x.shape)}"
            )
        tokens = x.movedim(1, -1)  # (B, *spatial, C)
        return x + self.mixer(self.norm(tokens)).movedim(-1, 1)
