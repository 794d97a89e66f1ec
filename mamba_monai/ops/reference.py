"""Readable pure-PyTorch selective scan: the ground truth of every test, and the fallback backend.

One sequential pass over the sequence. Slices are taken with ``unbind`` (not ``x[:, :, i]``), so autograd's backward
stays O(L) in time and memory.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

__all__ = ["ScanSteps", "discretize", "scan_output", "selective_scan_ref"]


def selective_scan_ref(
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
):
    """Selective scan with the contract of ``mamba_ssm``'s ``selective_scan_fn``, differentiable by autograd.

    Args:
        u: input, (batch, dim, len).
        delta: time steps before bias and softplus, (batch, dim, len).
        A: state matrix (diagonal per channel), (dim, dstate); real.
        B: input projection, (batch, dstate, len) or grouped (batch, groups, dstate, len).
        C: output projection, same shape as B.
        D: skip weight, (dim,).
        z: gate, (batch, dim, len): the output is multiplied by silu(z).
        delta_bias: added to delta, (dim,).
        delta_softplus: apply softplus to delta (after the bias).
        return_last_state: also return the final state (batch, dim, dstate).

    Computation runs in float32 (float64 for float64 input); the output has u's dtype, the last state is float32/64.
    """
    steps = discretize(u, delta, A, B, C, delta_bias, delta_softplus)
    batch, dim, length = u.shape
    state = steps.u.new_zeros(steps.decay.shape[1:])
    ys = []
    for decay_t, drive_t, c_t in zip(steps.decay.unbind(0), steps.drive.unbind(0), steps.c.unbind(0)):
        state = decay_t * state + drive_t
        ys.append(torch.einsum("bgkn,bgn->bgk", state, c_t))
    y = torch.stack(ys, dim=-1).reshape(batch, dim, length)
    out = scan_output(y, steps.u, D, z, u.dtype)
    if return_last_state:
        return out, state.reshape(batch, dim, -1)
    return out


class ScanSteps(NamedTuple):
    """The discretised recurrence ``state_t = decay_t * state_{t-1} + drive_t``, ``y_t = <state_t, c_t>``, sequence
    first: ``decay`` and ``drive`` (len, batch, groups, dim // groups, dstate), ``c`` (len, batch, groups, dstate),
    ``u`` the input in the compute dtype (float32, or float64 for float64 input)."""

    u: torch.Tensor
    decay: torch.Tensor
    drive: torch.Tensor
    c: torch.Tensor


def discretize(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
) -> ScanSteps:
    """Per-step decay ``exp(dt A)`` and drive ``dt B u`` of the selective scan (arguments as :func:`selective_scan_ref`)."""
    compute = torch.float64 if u.dtype == torch.float64 else torch.float32
    u, delta, A, B, C = (t.to(compute) for t in (u, delta, A, B, C))
    if delta_bias is not None:
        delta = delta + delta_bias.to(compute)[..., None]
    if delta_softplus:
        delta = F.softplus(delta)
    batch, dim, length = u.shape
    dstate = A.shape[1]
    if B.dim() == 3:
        B, C = B.unsqueeze(1), C.unsqueeze(1)
    groups = B.shape[1]
    per_group = dim // groups
    delta_g = delta.view(batch, groups, per_group, length)
    decay = torch.exp(torch.einsum("bgkl,gkn->lbgkn", delta_g, A.view(groups, per_group, dstate)))
    drive = torch.einsum("bgkl,bgnl,bgkl->lbgkn", delta_g, B, u.view(batch, groups, per_group, length))
    return ScanSteps(u, decay, drive, C.permute(3, 0, 1, 2))


def scan_output(
    y: torch.Tensor, u: torch.Tensor, D: torch.Tensor | None, z: torch.Tensor | None, dtype: torch.dtype
) -> torch.Tensor:
    """The scan's output from the state readout ``y`` (batch, dim, len): ``+ u D``, ``* silu(z)``, cast to ``dtype``."""
    out = y if D is None else y + u * D.to(y.dtype)[:, None]
    if z is not None:
        out = out * F.silu(z.to(y.dtype))
    return out.to(dtype)
