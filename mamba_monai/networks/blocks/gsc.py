"""SegMamba's gated spatial convolution (GSC) block."""

from __future__ import annotations

import torch
from monai.networks.blocks import Convolution
from torch import nn

__all__ = ["GSC"]


class GSC(nn.Module):
    """Gated spatial convolution block of SegMamba (Xing et al., 2024), on channel-first maps ``(B, C, *spatial)``.

    Two paths from the input: a main path of two ``conv 3 -> norm -> act`` units and a side path of one
    ``conv 1 -> norm -> act`` unit. Their sum goes through one more ``conv 1 -> norm -> act`` unit, and the input is
    added back (residual). All convolutions keep the channel count and have a bias, as in the original (a bias
    directly before an instance norm is cancelled by the norm, so its gradient is zero; it is kept for fidelity).

    Args:
        channels: channels in and out.
        spatial_dims: number of spatial dimensions (3 in SegMamba).
        norm_name: MONAI norm name or (name, args); default the original's ``InstanceNorm`` without affine.
        act_name: MONAI activation name or (name, args); default ReLU.
    """

    def __init__(
        self,
        channels: int,
        spatial_dims: int = 3,
        norm_name: tuple | str = "instance",
        act_name: tuple | str = "relu",
    ) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"GSC: channels must be positive, got {channels}")
        self.channels = channels
        self.spatial_dims = spatial_dims

        def conv_norm_act(kernel_size: int) -> Convolution:
            return Convolution(
                spatial_dims,
                channels,
                channels,
                kernel_size=kernel_size,
                norm=norm_name,
                act=act_name,
                adn_ordering="NA",
            )

        self.main = nn.Sequential(conv_norm_act(3), conv_norm_act(3))
        self.side = conv_norm_act(1)
        self.fuse = conv_norm_act(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, *spatial) -> (B, C, *spatial)."""
        if x.dim() != self.spatial_dims + 2 or x.shape[1] != self.channels:
            raise ValueError(
                f"GSC expects channel-first input (B, {self.channels}, *spatial[{self.spatial_dims}]), "
                f"got {tuple(x.shape)}"
            )
        return self.fuse(self.main(x) + self.side(x)) + x
