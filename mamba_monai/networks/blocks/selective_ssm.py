"""K selective state-space models, one per scan direction, run by a single selective-scan call."""

from __future__ import annotations

import math

import torch
from torch import nn

from mamba_monai.ops import selective_scan_fn

__all__ = ["MultiDirectionSSM", "dt_bias_init"]


def dt_bias_init(shape, dt_min: float = 1e-3, dt_max: float = 0.1, dt_init_floor: float = 1e-4) -> torch.Tensor:
    """Mamba's time-step bias: the inverse softplus of a log-uniform draw in [dt_min, dt_max] (floored)."""
    dt = torch.exp(torch.rand(shape) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
    dt = dt.clamp(min=dt_init_floor)
    return dt + torch.log(-torch.expm1(-dt))


class MultiDirectionSSM(nn.Module):
    """The selective SSM core of VMamba's SS2D and SegMamba's tri-oriented Mamba, for K directions at once.

    Each direction k has its own input-dependent projections (``x_proj_weight[k]`` gives dt, B, C), time-step
    projection (``dt_projs_weight[k]``, ``dt_projs_bias[k]``), state matrix ``A = -exp(A_logs)`` and skip ``Ds``.
    The K directions are folded into the channel axis and B, C into K groups, so one call of
    :func:`mamba_monai.ops.selective_scan_fn` runs them all.

    Args:
        d_inner: channels of each sequence.
        num_directions: number of directions K.
        d_state: state size N per channel.
        dt_rank: rank of the time-step projection.
        dt_min: smallest initial time step.
        dt_max: largest initial time step.
        dt_init_floor: lower bound of the initial time step.
        dt_scale: scale of the uniform initialisation of the time-step projection weight.
    """

    def __init__(
        self,
        d_inner: int,
        num_directions: int,
        d_state: int = 16,
        dt_rank: int = 1,
        dt_min: float = 1e-3,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        dt_scale: float = 1.0,
    ) -> None:
        super().__init__()
        k = num_directions
        self.d_inner, self.num_directions, self.d_state, self.dt_rank = d_inner, k, d_state, dt_rank
        bound = 1.0 / math.sqrt(d_inner)  # nn.Linear's default initialisation
        self.x_proj_weight = nn.Parameter(torch.empty(k, dt_rank + 2 * d_state, d_inner).uniform_(-bound, bound))
        dt_bound = dt_rank**-0.5 * dt_scale
        self.dt_projs_weight = nn.Parameter(torch.empty(k, d_inner, dt_rank).uniform_(-dt_bound, dt_bound))
        self.dt_projs_bias = nn.Parameter(dt_bias_init((k, d_inner), dt_min, dt_max, dt_init_floor))
        a = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(k * d_inner, 1)
        self.A_logs = nn.Parameter(torch.log(a))
        self.Ds = nn.Parameter(torch.ones(k * d_inner))
        for p in (self.A_logs, self.Ds, self.dt_projs_bias):
            p._no_weight_decay = True  # as in Mamba / VMamba: optimiser configs may exclude these

    def forward(self, xs: torch.Tensor) -> torch.Tensor:
        """(batch, K, d_inner, L) -> (batch, K, d_inner, L)."""
        batch, k, d, length = xs.shape
        if k != self.num_directions or d != self.d_inner:
            raise ValueError(
                f"MultiDirectionSSM expects (batch, {self.num_directions}, {self.d_inner}, L), got {tuple(xs.shape)}"
            )
        x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, self.x_proj_weight)
        dts, Bs, Cs = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=2)
        dts = torch.einsum("bkrl,kdr->bkdl", dts, self.dt_projs_weight)
        y = selective_scan_fn(
            xs.reshape(batch, k * d, length),
            dts.reshape(batch, k * d, length),
            -torch.exp(self.A_logs.float()),
            Bs,
            Cs,
            self.Ds.float(),
            z=None,
            delta_bias=self.dt_projs_bias.reshape(-1).float(),
            delta_softplus=True,
        )
        return y.view(batch, k, d, length)
