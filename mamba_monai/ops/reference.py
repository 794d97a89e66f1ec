"""Readable pure-PyTorch selective scan: the ground truth of every test, and the fallback backend.

One sequential pass over the sequence. Slices are taken with ``unbind`` (not ``x[:, :, i]``), so autograd's backward
stays O(L) in time and memory.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["selective_scan_ref"]


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
    dtype_in = u.dtype
    compute = torch.float64 if dtype_in == torch.float64 else torch.float32
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
    # (batch, len, groups, per_group, dstate): one contiguous slice per step after unbind(1)
    delta_g = delta.view(batch, groups, per_group, length)
    decay = torch.exp(torch.einsum("bgkl,gkn->blgkn", delta_g, A.view(groups, per_group, dstate)))
    drive = torch.einsum("bgkl,bgnl,bgkl->blgkn", delta_g, B, u.view(batch, groups, per_group, length))
    C_steps = C.permute(0, 3, 1, 2).unbind(1)  # each (batch, groups, dstate)
    state = u.new_zeros(batch, groups, per_group, dstate)
    ys = []
    for decay_t, drive_t, c_t in zip(decay.unbind(1), drive.unbind(1), C_steps):
        state = decay_t * state + drive_t
        ys.append(torch.einsum("bgkn,bgn->bgk", state, c_t))
    y = torch.stack(ys, dim=-1).reshape(batch, dim, length)
    out = y if D is None else y + u * D.to(compute)[:, None]
    if z is not None:
        out = out * F.silu(z.to(compute))
    out = out.to(dtype_in)
    if return_last_state:
        return out, state.reshape(batch, dim, dstate)
    return out
