"""The ``triton`` backend: selective-scan forward and backward written in Triton.

Triton ships with PyTorch's CUDA wheels, so a GPU user gets a compiled scan with no compiler, toolkit or build step
(mamba-ssm >= 2.3 builds its own kernel only on request). Each program scans ``BLOCK_D`` channels of one batch
element over the whole sequence, the state ``(BLOCK_D, dstate)`` held in registers, accumulating in float32 (float64
for float64 inputs). The forward saves the state every :data:`CHUNK` steps; the backward walks the chunks in reverse,
recomputes each chunk's states from its checkpoint into a scratch buffer, then runs the adjoint recurrence over it.
Gradients of the shared parameters (``A``, ``D``, ``delta_bias``) and of the grouped ``B``/``C`` are written per
program and summed by PyTorch afterwards (deterministic, no atomics); a program's channels lie in one group.

With ``TRITON_INTERPRET=1`` set before this module is imported, the same kernels run on CPU tensors through Triton's
interpreter: that is how they are tested on machines without a GPU.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["CHUNK", "block_channels", "triton_scan_bwd", "triton_scan_fwd"]

CHUNK = 64  # steps between the forward's saved states (and the length of the backward's scratch)


@triton.jit
def _softplus(x):
    # softplus with PyTorch's threshold; a NaN stays NaN (both comparisons are false)
    return tl.where(x > 20.0, x, tl.where(x < -15.0, tl.exp(x), tl.log(1.0 + tl.exp(x))))


@triton.jit
def _scan_fwd_kernel(
    u_ptr, delta_ptr, a_ptr, b_ptr, c_ptr, d_ptr, z_ptr, bias_ptr,
    out_ptr, last_ptr, ckpt_ptr,
    dim, length, dstate, per_group, n_chunks,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK_STEPS: tl.constexpr, ACC: tl.constexpr,
):  # fmt: skip
    pid_b = tl.program_id(0)
    chan = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    state_n = tl.arange(0, BLOCK_N)
    chan_ok = chan < dim
    both_ok = chan_ok[:, None] & (state_n < dstate)[None, :]
    groups = dim // per_group
    a = tl.load(a_ptr + chan[:, None] * dstate + state_n[None, :], mask=both_ok, other=0.0).to(ACC)
    if HAS_D:
        d_skip = tl.load(d_ptr + chan, mask=chan_ok, other=0.0).to(ACC)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + chan, mask=chan_ok, other=0.0).to(ACC)
    row = (pid_b * dim + chan) * length
    bc_row = ((pid_b * groups + chan // per_group)[:, None] * dstate + state_n[None, :]) * length
    state_row = (pid_b * dim + chan)[:, None] * dstate + state_n[None, :]
    ckpt_row = ((pid_b * dim + chan)[:, None] * n_chunks) * dstate + state_n[None, :]
    h = tl.zeros((BLOCK_D, BLOCK_N), dtype=ACC)
    for t in range(0, length):
        if t % CHUNK_STEPS == 0:
            tl.store(ckpt_ptr + ckpt_row + (t // CHUNK_STEPS) * dstate, h, mask=both_ok)
        u_t = tl.load(u_ptr + row + t, mask=chan_ok, other=0.0).to(ACC)
        dt = tl.load(delta_ptr + row + t, mask=chan_ok, other=0.0).to(ACC)
        if HAS_BIAS:
            dt = dt + bias
        if SOFTPLUS:
            dt = _softplus(dt)
        b_t = tl.load(b_ptr + bc_row + t, mask=both_ok, other=0.0).to(ACC)
        c_t = tl.load(c_ptr + bc_row + t, mask=both_ok, other=0.0).to(ACC)
        h = tl.exp(dt[:, None] * a) * h + (dt * u_t)[:, None] * b_t
        y = tl.sum(h * c_t, axis=1)
        if HAS_D:
            y = y + d_skip * u_t
        if HAS_Z:
            z_t = tl.load(z_ptr + row + t, mask=chan_ok, other=0.0).to(ACC)
            y = y * z_t * tl.sigmoid(z_t)
        tl.store(out_ptr + row + t, y.to(out_ptr.dtype.element_ty), mask=chan_ok)
    tl.store(last_ptr + state_row, h, mask=both_ok)


@triton.jit
def _scan_bwd_kernel(
    dout_ptr, u_ptr, delta_ptr, a_ptr, b_ptr, c_ptr, d_ptr, z_ptr, bias_ptr, ckpt_ptr, scratch_ptr,
    du_ptr, ddelta_ptr, dz_ptr, da_part_ptr, db_part_ptr, dc_part_ptr, dd_part_ptr, dbias_part_ptr,
    dim, length, dstate, per_group, n_chunks, n_blocks,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK_STEPS: tl.constexpr, ACC: tl.constexpr,
):  # fmt: skip
    pid_b = tl.program_id(0)
    pid_d = tl.program_id(1)
    chan = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    state_n = tl.arange(0, BLOCK_N)
    chan_ok = chan < dim
    n_ok = state_n < dstate
    both_ok = chan_ok[:, None] & n_ok[None, :]
    groups = dim // per_group
    a = tl.load(a_ptr + chan[:, None] * dstate + state_n[None, :], mask=both_ok, other=0.0).to(ACC)
    if HAS_D:
        d_skip = tl.load(d_ptr + chan, mask=chan_ok, other=0.0).to(ACC)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + chan, mask=chan_ok, other=0.0).to(ACC)
    row = (pid_b * dim + chan) * length
    bc_row = ((pid_b * groups + chan // per_group)[:, None] * dstate + state_n[None, :]) * length
    state_row = (pid_b * dim + chan)[:, None] * dstate + state_n[None, :]
    ckpt_row = ((pid_b * dim + chan)[:, None] * n_chunks) * dstate + state_n[None, :]
    scratch_row = ((pid_b * dim + chan)[:, None] * CHUNK_STEPS) * dstate + state_n[None, :]
    part_row = (pid_b * n_blocks + pid_d) * dstate * length + state_n * length  # (BLOCK_N,) rows of dB / dC parts

    dh = tl.zeros((BLOCK_D, BLOCK_N), dtype=ACC)
    da_acc = tl.zeros((BLOCK_D, BLOCK_N), dtype=ACC)
    dd_acc = tl.zeros((BLOCK_D,), dtype=ACC)
    dbias_acc = tl.zeros((BLOCK_D,), dtype=ACC)
    for back in range(0, n_chunks):
        chunk = n_chunks - 1 - back
        start = chunk * CHUNK_STEPS
        stop = tl.minimum(start + CHUNK_STEPS, length)
        # 1. the chunk's states before each step, from its checkpoint
        h = tl.load(ckpt_ptr + ckpt_row + chunk * dstate, mask=both_ok, other=0.0)
        for t in range(start, stop):
            tl.store(scratch_ptr + scratch_row + (t - start) * dstate, h, mask=both_ok)
            u_t = tl.load(u_ptr + row + t, mask=chan_ok, other=0.0).to(ACC)
            dt = tl.load(delta_ptr + row + t, mask=chan_ok, other=0.0).to(ACC)
            if HAS_BIAS:
                dt = dt + bias
            if SOFTPLUS:
                dt = _softplus(dt)
            b_t = tl.load(b_ptr + bc_row + t, mask=both_ok, other=0.0).to(ACC)
            h = tl.exp(dt[:, None] * a) * h + (dt * u_t)[:, None] * b_t
        tl.debug_barrier()
        # 2. the adjoint recurrence over the chunk, last step first
        for s in range(0, stop - start):
            t = stop - 1 - s
            h_prev = tl.load(scratch_ptr + scratch_row + (t - start) * dstate, mask=both_ok, other=0.0)
            u_t = tl.load(u_ptr + row + t, mask=chan_ok, other=0.0).to(ACC)
            dt_raw = tl.load(delta_ptr + row + t, mask=chan_ok, other=0.0).to(ACC)
            if HAS_BIAS:
                dt_raw = dt_raw + bias
            dt = dt_raw
            if SOFTPLUS:
                dt = _softplus(dt_raw)
            b_t = tl.load(b_ptr + bc_row + t, mask=both_ok, other=0.0).to(ACC)
            c_t = tl.load(c_ptr + bc_row + t, mask=both_ok, other=0.0).to(ACC)
            decay = tl.exp(dt[:, None] * a)
            h_t = decay * h_prev + (dt * u_t)[:, None] * b_t
            dy = tl.load(dout_ptr + row + t, mask=chan_ok, other=0.0).to(ACC)
            if HAS_Z:
                z_t = tl.load(z_ptr + row + t, mask=chan_ok, other=0.0).to(ACC)
                sig = tl.sigmoid(z_t)
                y = tl.sum(h_t * c_t, axis=1)
                if HAS_D:
                    y = y + d_skip * u_t
                dz = dy * y * sig * (1.0 + z_t * (1.0 - sig))
                tl.store(dz_ptr + row + t, dz.to(dz_ptr.dtype.element_ty), mask=chan_ok)
                dy = dy * z_t * sig
            du = tl.zeros((BLOCK_D,), dtype=ACC)
            if HAS_D:
                du = dy * d_skip
                dd_acc += dy * u_t
            dh += dy[:, None] * c_t
            tl.store(dc_part_ptr + part_row + t, tl.sum(dy[:, None] * h_t, axis=0), mask=n_ok)
            tl.store(db_part_ptr + part_row + t, tl.sum(dh * (dt * u_t)[:, None], axis=0), mask=n_ok)
            dh_b = tl.sum(dh * b_t, axis=1)
            du += dt * dh_b
            dh_decay = dh * decay * h_prev
            ddt = u_t * dh_b + tl.sum(dh_decay * a, axis=1)
            da_acc += dh_decay * dt[:, None]
            dh = dh * decay
            if SOFTPLUS:
                ddt = ddt * tl.sigmoid(dt_raw)
            dbias_acc += ddt
            tl.store(du_ptr + row + t, du.to(du_ptr.dtype.element_ty), mask=chan_ok)
            tl.store(ddelta_ptr + row + t, ddt.to(ddelta_ptr.dtype.element_ty), mask=chan_ok)
        tl.debug_barrier()
    tl.store(da_part_ptr + state_row, da_acc, mask=both_ok)
    tl.store(dd_part_ptr + pid_b * dim + chan, dd_acc, mask=chan_ok)
    tl.store(dbias_part_ptr + pid_b * dim + chan, dbias_acc, mask=chan_ok)


def block_channels(per_group: int, limit: int = 16) -> int:
    """Channels per program: the largest power of two <= ``limit`` dividing ``per_group`` (a program's channels
    share their B and C group, so the per-program dB / dC parts sum per group)."""
    block = 1
    while block * 2 <= limit and per_group % (block * 2) == 0:
        block *= 2
    return block


def _plan(u: torch.Tensor, A: torch.Tensor, B: torch.Tensor):
    batch, dim, length = u.shape
    dstate = A.shape[1]
    per_group = dim // B.shape[1]
    block_d = block_channels(per_group)
    acc_torch = torch.float64 if u.dtype == torch.float64 else torch.float32
    acc = tl.float64 if acc_torch == torch.float64 else tl.float32
    meta = {"BLOCK_D": block_d, "BLOCK_N": triton.next_power_of_2(dstate), "CHUNK_STEPS": CHUNK, "ACC": acc}
    n_chunks = max(1, triton.cdiv(length, CHUNK))
    return batch, dim, length, dstate, per_group, n_chunks, acc_torch, meta


def triton_scan_fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus):
    """Forward scan on contiguous inputs (B, C grouped: ``(batch, groups, dstate, len)``).

    Returns ``(out, last_state, checkpoints)``: checkpoints ``(batch, dim, chunks, dstate)`` are the states before
    every :data:`CHUNK`-th step, what :func:`triton_scan_bwd` needs.
    """
    batch, dim, length, dstate, per_group, n_chunks, acc, meta = _plan(u, A, B)
    out = torch.empty_like(u)
    last = u.new_empty((batch, dim, dstate), dtype=acc)
    ckpt = u.new_zeros((batch, dim, n_chunks, dstate), dtype=acc)
    grid = (batch, triton.cdiv(dim, meta["BLOCK_D"]))
    _scan_fwd_kernel[grid](
        u, delta, A, B, C, D if D is not None else u, z if z is not None else u,
        delta_bias if delta_bias is not None else u, out, last, ckpt,
        dim, length, dstate, per_group, n_chunks,
        HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None, SOFTPLUS=bool(delta_softplus),
        **meta,
    )  # fmt: skip
    return out, last, ckpt


def triton_scan_bwd(dout, u, delta, A, B, C, D, z, delta_bias, delta_softplus, ckpt):
    """Gradients ``[du, ddelta, dA, dB, dC, dD, dz, ddelta_bias]`` (empty tensors for absent inputs)."""
    batch, dim, length, dstate, per_group, n_chunks, acc, meta = _plan(u, A, B)
    groups = B.shape[1]
    n_blocks = triton.cdiv(dim, meta["BLOCK_D"])
    du, ddelta = torch.empty_like(u), torch.empty_like(delta)
    dz = torch.empty_like(z) if z is not None else u.new_empty((0,))
    scratch = u.new_empty((batch, dim, CHUNK, dstate), dtype=acc)
    da_part = u.new_empty((batch, dim, dstate), dtype=acc)
    db_part = u.new_empty((batch, n_blocks, dstate, length), dtype=acc)
    dc_part = u.new_empty((batch, n_blocks, dstate, length), dtype=acc)
    dd_part = u.new_zeros((batch, dim), dtype=acc)
    dbias_part = u.new_zeros((batch, dim), dtype=acc)
    _scan_bwd_kernel[(batch, n_blocks)](
        dout, u, delta, A, B, C, D if D is not None else u, z if z is not None else u,
        delta_bias if delta_bias is not None else u, ckpt, scratch,
        du, ddelta, dz if z is not None else u, da_part, db_part, dc_part, dd_part, dbias_part,
        dim, length, dstate, per_group, n_chunks, n_blocks,
        HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None, SOFTPLUS=bool(delta_softplus),
        **meta,
    )  # fmt: skip
    per_block = n_blocks // groups
    dB = db_part.view(batch, groups, per_block, dstate, length).sum(2).to(B.dtype)
    dC = dc_part.view(batch, groups, per_block, dstate, length).sum(2).to(C.dtype)
    return [
        du,
        ddelta,
        da_part.sum(0).to(A.dtype),
        dB,
        dC,
        dd_part.sum(0).to(D.dtype) if D is not None else u.new_empty((0,)),
        dz,
        dbias_part.sum(0).to(delta_bias.dtype) if delta_bias is not None else u.new_empty((0,)),
    ]
