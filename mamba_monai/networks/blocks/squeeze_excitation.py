"""Squeeze-and-excitation with bias-free excitation layers that records its channel weights (MedMambaSE's SE)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SqueezeExcitation"]


class SqueezeExcitation(nn.Module):
    """Channel squeeze-and-excitation (Hu et al., 2018) on channel-first maps ``(B, C, *spatial)``.

    Global average pooling gives one value per channel; ``excitation`` (Linear C -> C / reduction, ReLU,
    Linear -> C, sigmoid) turns it into channel weights in (0, 1) that rescale the input. This is MedMambaSE's
    ``SEBlock``. MONAI's ``ChannelSELayer`` computes the same thing but its two linear layers carry biases; MedMambaSE's
    do not (``bias=False`` here by default), so its parameter count and checkpoints would not match.

    For explainability the weights of the last forward pass are kept, detached, as ``last_weights`` (shape
    ``(B, C)``); a forward hook on the ``excitation`` submodule sees them too (with their graph).

    Args:
        in_channels: channels C.
        reduction: C / reduction hidden units (at least 1).
        bias: biases in the two linear layers (MedMambaSE: none).
    """

    def __init__(self, in_channels: int, reduction: int = 16, bias: bool = False) -> None:
        super().__init__()
        if reduction < 1 or in_channels // reduction < 1:
            raise ValueError(
                f"SqueezeExcitation: reduction must be >= 1 and at most in_channels, got reduction={reduction} "
                f"for in_channels={in_channels}"
            )
        self.in_channels = in_channels
        hidden = in_channels // reduction
        self.excitation = nn.Sequential(
            nn.Linear(in_channels, hidden, bias=bias),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, in_channels, bias=bias),
            nn.Sigmoid(),
        )
        self.last_weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, *spatial) -> (B, C, *spatial), each channel scaled by its weight."""
        if x.dim() < 3 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"SqueezeExcitation expects (batch, {self.in_channels}, *spatial) input, got {tuple(x.shape)}"
            )
        weights = self.excitation(x.mean(dim=tuple(range(2, x.dim()))))
        self.last_weights = weights.detach()
        return x * weights.view(*weights.shape, *([1] * (x.dim() - 2)))
