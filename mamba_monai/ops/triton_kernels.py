"""Triton kernels of the selective scan, forward and backward (imported only when the ``triton`` backend runs).

One program per (channel, batch) walks the sequence in chunks of ``BLOCK_L`` steps. Within a chunk the states of all
``dstate`` rows are a (BLOCK_N, BLOCK_L) tile computed with :func:`triton.language.associative_scan` over pairs
``(decay, drive)`` of the map ``h -> decay * h + drive``; the state at the chunk's end is carried to the next chunk.
Only products of per-step decays ``exp(dt A)`` appear (no division by a cumulative decay), so any ``dt`` stays finite,
and a NaN in the inputs reaches the outputs as in the reference.

The forward saves the state at the start of every chunk. The backward walks the chunks in reverse: it recomputes the
states of a chunk from its saved start state and runs the adjoint recurrence ``G_t = decay_{t+1} G_{t+1} + dy_t C_t``
(``G_t`` the gradient of the loss with respect to the state ``h_t``) as a reverse associative scan, carrying
``G`` of the chunk's first step to the previous chunk. Memory: B·D·N·L/BLOCK_L saved states.

Arithmetic runs in ``ACC`` (float32, or float64 for float64 inputs). Gradients of ``B`` and ``C``, shared by the
channels of a group, are accumulated with atomic adds; those of ``A``, ``D`` and ``delta_bias`` per (batch, channel),
summed over the batch by the caller.
"""

from __future__ import annotations

import triton
import triton.language as tl

__all__ = ["selective_scan_fwd_kernel", "selective_scan_bwd_kernel"]


@triton.jit
def _compose(decay_first, drive_first, decay_then, drive_then):
    """The map ``h -> decay_then * (decay_first * h + drive_first) + drive_then`` as a (decay, drive) pair."""
    return decay_first * decay_then, drive_first * decay_then + drive_then


@triton.jit
def _softplus(x):
    """``log(1 + exp(x))`` as torch computes it (``x`` above 20 unchanged); NaN stays NaN."""
    e = tl.exp(x)
    w = 1.0 + e
    # log1p(e) without a log1p instruction: exact to rounding also where 1 + e rounds to 1 (Goldberg's trick)
    log1p = tl.where(w == 1.0, e, tl.log(w) * (e / (w - 1.0)))
    return tl.where(x > 20.0, x, log1p)


@triton.jit
def _time_steps(delta_ptr, row, t, t_mask, bias, SOFTPLUS: tl.constexpr, ACC: tl.constexpr):
    """Time steps ``dt`` at positions ``t`` (0 where masked) and the softplus argument ``x = delta + bias``."""
    x = tl.load(delta_ptr + row + t, mask=t_mask, other=0.0).to(ACC) + bias
    if SOFTPLUS:
        dt = _softplus(x)
    else:
        dt = x
    return tl.where(t_mask, dt, 0.0), x


@triton.jit
def _steps(u, dt, A_row, B_tile, n_mask):
    """Per-step ``decay = exp(dt A)`` and ``drive = dt B u``, (BLOCK_N, BLOCK_L); identity on padded state rows."""
    decay = tl.where(n_mask[:, None], tl.exp(dt[None, :] * A_row[:, None]), 1.0)
    drive = tl.where(n_mask[:, None], (dt * u)[None, :] * B_tile, 0.0)
    return decay, drive


@triton.jit
def _column(tile, cols, index):
    """Column ``index`` of a (BLOCK_N, BLOCK_L) tile, as a (BLOCK_N,) vector."""
    return tl.sum(tl.where(cols[None, :] == index, tile, 0.0), axis=1)


@triton.jit
def selective_scan_fwd_kernel(
    u_ptr,
    delta_ptr,
    A_ptr,
    B_ptr,
    C_ptr,
    D_ptr,
    z_ptr,
    bias_ptr,
    out_ptr,
    last_ptr,
    saved_ptr,
    dim,
    length,
    dstate,
    groups,
    per_group,
    n_chunks,
    HAS_D: tl.constexpr,
    HAS_Z: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr,
    ACC: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_L: tl.constexpr,
):
    """Grid (dim, batch). Writes ``out`` (batch, dim, len), ``last`` (batch, dim, dstate) and ``saved``
    (batch, dim, n_chunks, dstate): the state before each chunk."""
    d = tl.program_id(0)
    b = tl.program_id(1).to(tl.int64)
    row = (b * dim + d) * length
    bc_row = (b * groups + d // per_group) * dstate * length
    state_row = (b * dim + d) * dstate
    n = tl.arange(0, BLOCK_N)
    n_mask = n < dstate
    cols = tl.arange(0, BLOCK_L)
    A_row = tl.load(A_ptr + d * dstate + n, mask=n_mask, other=0.0).to(ACC)
    bias = tl.load(bias_ptr + d).to(ACC) if HAS_BIAS else 0.0
    skip = tl.load(D_ptr + d).to(ACC) if HAS_D else 0.0
    h = tl.zeros([BLOCK_N], dtype=ACC)
    for c in range(n_chunks):
        t = c * BLOCK_L + cols
        t_mask = t < length
        tile = n[:, None] * length + t[None, :]
        tile_mask = n_mask[:, None] & t_mask[None, :]
        tl.store(saved_ptr + (state_row * n_chunks + c * dstate) + n, h, mask=n_mask)
        u = tl.load(u_ptr + row + t, mask=t_mask, other=0.0).to(ACC)
        dt, _ = _time_steps(delta_ptr, row, t, t_mask, bias, SOFTPLUS, ACC)
        B_tile = tl.load(B_ptr + bc_row + tile, mask=tile_mask, other=0.0).to(ACC)
        C_tile = tl.load(C_ptr + bc_row + tile, mask=tile_mask, other=0.0).to(ACC)
        decay, drive = _steps(u, dt, A_row, B_tile, n_mask)
        through, local = tl.associative_scan((decay, drive), 1, _compose)
        states = through * h[:, None] + local
        y = tl.sum(states * C_tile, axis=0)
        if HAS_D:
            y += skip * u
        if HAS_Z:
            z = tl.load(z_ptr + row + t, mask=t_mask, other=0.0).to(ACC)
            y = y * z * tl.sigmoid(z)
        tl.store(out_ptr + row + t, y.to(out_ptr.dtype.element_ty), mask=t_mask)
        # padded steps have decay 1 and drive 0: the last column is the state after the chunk's last real step
        h = _column(states, cols, BLOCK_L - 1)
    tl.store(last_ptr + state_row + n, h, mask=n_mask)


@triton.jit
def selective_scan_bwd_kernel(
    dout_ptr,
    u_ptr,
    delta_ptr,
    A_ptr,
    B_ptr,
    C_ptr,
    D_ptr,
    z_ptr,
    bias_ptr,
    saved_ptr,
    du_ptr,
    ddelta_ptr,
    dA_ptr,
    dB_ptr,
    dC_ptr,
    dD_ptr,
    dz_ptr,
    dbias_ptr,
    dim,
    length,
    dstate,
    groups,
    per_group,
    n_chunks,
    HAS_D: tl.constexpr,
    HAS_Z: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr,
    ACC: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_L: tl.constexpr,
):
    """Grid (dim, batch). Writes ``du``, ``ddelta``, ``dz`` (batch, dim, len); adds into ``dB``, ``dC``
    (batch, groups, dstate, len, zero-initialised, ACC); writes per (batch, channel) ``dA`` (batch, dim, dstate),
    ``dD`` and ``dbias`` (batch, dim)."""
    d = tl.program_id(0)
    b = tl.program_id(1).to(tl.int64)
    row = (b * dim + d) * length
    bc_row = (b * groups + d // per_group) * dstate * length
    state_row = (b * dim + d) * dstate
    n = tl.arange(0, BLOCK_N)
    n_mask = n < dstate
    cols = tl.arange(0, BLOCK_L)
    A_row = tl.load(A_ptr + d * dstate + n, mask=n_mask, other=0.0).to(ACC)
    bias = tl.load(bias_ptr + d).to(ACC) if HAS_BIAS else 0.0
    skip = tl.load(D_ptr + d).to(ACC) if HAS_D else 0.0
    G_after = tl.zeros([BLOCK_N], dtype=ACC)  # gradient wrt the state at the first step of the following chunk
    dA = tl.zeros([BLOCK_N], dtype=ACC)
    dD = tl.zeros([BLOCK_L], dtype=ACC)
    dbias = tl.zeros([BLOCK_L], dtype=ACC)
    for k in range(n_chunks):
        c = n_chunks - 1 - k
        t = c * BLOCK_L + cols
        t_mask = t < length
        tile = n[:, None] * length + t[None, :]
        tile_mask = n_mask[:, None] & t_mask[None, :]
        h_start = tl.load(saved_ptr + (state_row * n_chunks + c * dstate) + n, mask=n_mask, other=0.0)

        # states before each step, h_{t-1}: scan of the steps t-1 (identity at the chunk's first position)
        prev_mask = t_mask & (cols > 0)
        u_prev = tl.load(u_ptr + row + t - 1, mask=prev_mask, other=0.0).to(ACC)
        dt_prev, _ = _time_steps(delta_ptr, row, t - 1, prev_mask, bias, SOFTPLUS, ACC)
        prev_tile_mask = n_mask[:, None] & prev_mask[None, :]
        B_prev = tl.load(B_ptr + bc_row + tile - 1, mask=prev_tile_mask, other=0.0).to(ACC)
        decay_prev, drive_prev = _steps(u_prev, dt_prev, A_row, B_prev, n_mask)
        through, local = tl.associative_scan((decay_prev, drive_prev), 1, _compose)
        h_prev = through * h_start[:, None] + local

        # this step: h_t and the output before the gate
        u = tl.load(u_ptr + row + t, mask=t_mask, other=0.0).to(ACC)
        dt, x = _time_steps(delta_ptr, row, t, t_mask, bias, SOFTPLUS, ACC)
        B_tile = tl.load(B_ptr + bc_row + tile, mask=tile_mask, other=0.0).to(ACC)
        C_tile = tl.load(C_ptr + bc_row + tile, mask=tile_mask, other=0.0).to(ACC)
        decay, drive = _steps(u, dt, A_row, B_tile, n_mask)
        decayed = decay * h_prev  # decay_t h_{t-1}: the state's share of h_t
        h = decayed + drive
        dout = tl.load(dout_ptr + row + t, mask=t_mask, other=0.0).to(ACC)
        if HAS_Z:
            z = tl.load(z_ptr + row + t, mask=t_mask, other=0.0).to(ACC)
            sig = tl.sigmoid(z)
            y = tl.sum(h * C_tile, axis=0)
            if HAS_D:
                y += skip * u
            dz = dout * y * sig * (1.0 + z * (1.0 - sig))
            tl.store(dz_ptr + row + t, dz.to(dz_ptr.dtype.element_ty), mask=t_mask)
            dy = dout * z * sig
        else:
            dy = dout

        # adjoint: G_t = decay_{t+1} G_{t+1} + dy_t C_t, reverse scan; the chunk's last step takes G_after
        next_mask = (t + 1) < length
        dt_next, _ = _time_steps(delta_ptr, row, t + 1, next_mask, bias, SOFTPLUS, ACC)
        decay_next = tl.where(n_mask[:, None], tl.exp(dt_next[None, :] * A_row[:, None]), 1.0)
        readout = dy[None, :] * C_tile
        through_rev, local_rev = tl.associative_scan((decay_next, readout), 1, _compose, reverse=True)
        G = through_rev * G_after[:, None] + local_rev
        G_after = _column(G, cols, 0)

        tl.atomic_add(dB_ptr + bc_row + tile, G * (dt * u)[None, :], mask=tile_mask)
        tl.atomic_add(dC_ptr + bc_row + tile, dy[None, :] * h, mask=tile_mask)
        du = dt * tl.sum(G * B_tile, axis=0)
        if HAS_D:
            du += skip * dy
            dD += dy * u
        tl.store(du_ptr + row + t, du.to(du_ptr.dtype.element_ty), mask=t_mask)
        G_decayed = G * decayed
        ddt = tl.sum(G * B_tile, axis=0) * u + tl.sum(G_decayed * A_row[:, None], axis=0)
        dA += tl.sum(G_decayed * dt[None, :], axis=1)
        if SOFTPLUS:
            ddt = ddt * tl.where(x > 20.0, 1.0, tl.sigmoid(x))
        ddt = tl.where(t_mask, ddt, 0.0)
        tl.store(ddelta_ptr + row + t, ddt.to(ddelta_ptr.dtype.element_ty), mask=t_mask)
        if HAS_BIAS:
            dbias += ddt
    tl.store(dA_ptr + state_row + n, dA, mask=n_mask)
    if HAS_D:
        tl.store(dD_ptr + b * dim + d, tl.sum(dD, axis=0))
    if HAS_BIAS:
        tl.store(dbias_ptr + b * dim + d, tl.sum(dbias, axis=0))
