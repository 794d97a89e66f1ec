"""Portable chunked selective scan: pure PyTorch, any device, far fewer sequential steps than the reference.

The sequence is cut into ``K`` chunks of ``T`` steps that are scanned *side by side* (every tensor op works on all
chunks at once), in three passes:

1. each chunk runs the recurrence from a zero state (``T`` steps): its local readout, its end state and the product
   of its decays;
2. the states carried into each chunk follow from those end states (``K`` steps over chunk-sized tensors);
3. each chunk decays its carried-in state over its own steps and adds that readout (``T`` steps).

``2 T + K`` sequential steps instead of ``L`` (``T ~ sqrt(L / 2)``: 80 + 79 for a 56 x 56 map instead of 3136). Numerically
it is the recurrence itself: only products of the per-step decays ``exp(dt A)`` appear, never a division by a
cumulative decay or an ``exp`` of a positive cumulative sum (the overflow trap of earlier chunked scans: see
ARCHITECTURE.md), so any chunk length, any ``dt`` and ``dt A`` down to -1e4 stay finite, and a NaN in the inputs
reaches the output as in the reference. Forward memory (without autograd) is O(B·D·N·L/T + B·D·L); under autograd the
per-step tensors are kept for the backward, O(B·D·N·L) as in the reference.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mamba_monai.ops.reference import scan_output

__all__ = ["default_chunk", "selective_scan_chunked"]


def default_chunk(length: int) -> int:
    """Steps per chunk that minimise the sequential steps ``2 T + L / T``: about ``sqrt(L / 2)``."""
    return max(1, min(length, round(math.sqrt(length / 2))))


def selective_scan_chunked(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
    chunk: int | None = None,
):
    """Selective scan with the contract of :func:`mamba_monai.ops.reference.selective_scan_ref` (same arguments).

    Args:
        chunk: steps per chunk; default :func:`default_chunk`. Any value >= 1 gives the same result.

    Other arguments as :func:`~mamba_monai.ops.selective_scan_fn`; differentiable by autograd.
    """
    compute = torch.float64 if u.dtype == torch.float64 else torch.float32
    batch, dim, length = u.shape
    dstate = A.shape[1]
    if B.dim() == 3:
        B, C = B.unsqueeze(1), C.unsqueeze(1)
    groups = B.shape[1]
    per_group = dim // groups
    steps = default_chunk(length) if chunk is None else int(chunk)
    if steps < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    chunks = -(-length // steps)
    pad = chunks * steps - length

    u_c, dt = u.to(compute), delta.to(compute)
    if delta_bias is not None:
        dt = dt + delta_bias.to(compute)[..., None]
    if delta_softplus:
        dt = F.softplus(dt)
    b_c, c_c = B.to(compute), C.to(compute)
    if pad:  # padded steps: dt = 0 (decay 1, drive 0) and C = 0, so they change nothing and read out 0
        dt, u_pad = F.pad(dt, (0, pad)), F.pad(u_c, (0, pad))
        b_c, c_c = F.pad(b_c, (0, pad)), F.pad(c_c, (0, pad))
    else:
        u_pad = u_c
    # (batch, groups, per_group, chunks, steps) and (batch, groups, dstate, chunks, steps)
    dt = dt.view(batch, groups, per_group, chunks, steps)
    dtu = dt * u_pad.view(batch, groups, per_group, chunks, steps)
    b_c = b_c.view(batch, groups, dstate, chunks, steps)
    c_c = c_c.view(batch, groups, dstate, chunks, steps)
    a = A.to(compute).view(1, groups, per_group, dstate, 1)

    def decay(t: int) -> torch.Tensor:  # (batch, groups, per_group, dstate, chunks)
        return torch.exp(dt[..., t].unsqueeze(3) * a)

    def read(state: torch.Tensor, t: int) -> torch.Tensor:  # (batch, groups, per_group, chunks)
        return (state * c_c[..., t].unsqueeze(2)).sum(3)

    # 1. every chunk from a zero state
    state = dt.new_zeros(batch, groups, per_group, dstate, chunks)
    through = None  # product of the chunk's decays
    local = []
    for t in range(steps):
        decay_t = decay(t)
        state = decay_t * state + dtu[..., t].unsqueeze(3) * b_c[..., t].unsqueeze(2)
        through = decay_t if through is None else through * decay_t
        local.append(read(state, t))
    # 2. the state carried into each chunk
    carried, carry = [], dt.new_zeros(batch, groups, per_group, dstate)
    for k in range(chunks):
        carried.append(carry)
        carry = through[..., k] * carry + state[..., k]
    # 3. each chunk's carried-in state, decayed over its steps
    incoming = torch.stack(carried, dim=-1)
    ys = []
    for t in range(steps):
        incoming = decay(t) * incoming
        ys.append(local[t] + read(incoming, t))
    y = torch.stack(ys, dim=-1).reshape(batch, dim, chunks * steps)[..., :length]
    out = scan_output(y, u_c, D, z, u.dtype)
    if return_last_state:
        return out, carry.reshape(batch, dim, dstate)
    return out
