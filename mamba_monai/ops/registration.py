"""The selective scan as PyTorch custom ops: ``torch.ops.mamba_monai.selective_scan_fwd`` / ``selective_scan_bwd``.

Registered with :mod:`torch.library` (implementation, fake tensor implementation, autograd), so networks that use the
scan work under ``torch.compile``, ``torch.export`` and ``torch.jit.trace``. The backend is an argument of the op,
chosen in Python per call (see :mod:`mamba_monai.ops.backends`), so a compiled graph records which kernel it uses.

``selective_scan_fwd`` returns ``(out, last_state, saved, out_before_gate)``: ``saved`` is whatever the backend's
backward needs (the compiled kernel's tile checkpoints, mamba-ssm's chunk states, the Triton kernels' states before
each chunk, nothing for the reference) and
``out_before_gate`` is kept only by mamba-ssm when ``z`` is given. No gradient flows through ``last_state``, as in
mamba-ssm. The ``reference`` backend is plain PyTorch: :func:`mamba_monai.ops.selective_scan_fn` calls it directly
(autograd differentiates it, torch.compile traces it); the raw op runs it forward only.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from mamba_monai.ops.compiled import kernel_threads, load_kernel
from mamba_monai.ops.cuda import mamba_ssm_bwd, mamba_ssm_fwd
from mamba_monai.ops.reference import selective_scan_ref
from mamba_monai.ops.triton_scan import saved_states_shape, triton_scan_bwd, triton_scan_fwd

__all__ = ["CHECKPOINT_CHUNK", "MAMBA_SSM_CHUNK", "selective_scan_fwd", "selective_scan_bwd"]

CHECKPOINT_CHUNK = 64  # steps between the compiled backward's checkpoints (kChunk in selective_scan.cpp)
MAMBA_SSM_CHUNK = 2048  # steps per chunk of mamba-ssm's saved states


def _state_dtype(u: Tensor) -> torch.dtype:
    return torch.float64 if u.dtype == torch.float64 else torch.float32


@torch.library.custom_op("mamba_monai::selective_scan_fwd", mutates_args=())
def selective_scan_fwd(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Optional[Tensor],
    z: Optional[Tensor],
    delta_bias: Optional[Tensor],
    delta_softplus: bool,
    backend: str,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Forward scan on contiguous inputs with grouped B, C (batch, groups, dstate, len)."""
    if backend == "compiled":
        out, last_state, checkpoints = load_kernel().fwd(
            u, delta, A, B, C, D, z, delta_bias, delta_softplus, True, kernel_threads()
        )
        return out, last_state, checkpoints, u.new_empty((0,))
    if backend == "mamba_ssm":
        return tuple(mamba_ssm_fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus))
    if backend == "triton":
        out, last_state, saved = triton_scan_fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
        return out, last_state, saved, u.new_empty((0,))
    if backend == "reference":
        out, last_state = selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus, True)
        return out, last_state, u.new_empty((0,), dtype=_state_dtype(u)), u.new_empty((0,))
    raise ValueError(f"selective_scan: unknown backend {backend!r}")


@selective_scan_fwd.register_fake
def _selective_scan_fwd_fake(u, delta, A, B, C, D, z, delta_bias, delta_softplus, backend):
    batch, dim, length = u.shape
    dstate = A.shape[1]
    state_dtype = _state_dtype(u)
    if backend == "compiled":
        saved = u.new_empty(
            (batch, dim, (length + CHECKPOINT_CHUNK - 1) // CHECKPOINT_CHUNK, dstate), dtype=state_dtype
        )
    elif backend == "mamba_ssm":
        saved = u.new_empty((batch, dim, (length + MAMBA_SSM_CHUNK - 1) // MAMBA_SSM_CHUNK, 2 * dstate), dtype=A.dtype)
    elif backend == "triton":
        saved = u.new_empty(saved_states_shape(u, A), dtype=state_dtype)
    else:
        saved = u.new_empty((0,), dtype=state_dtype)
    before_gate = torch.empty_like(u) if (backend == "mamba_ssm" and z is not None) else u.new_empty((0,))
    last_dtype = A.dtype if backend == "mamba_ssm" else state_dtype
    return torch.empty_like(u), u.new_empty((batch, dim, dstate), dtype=last_dtype), saved, before_gate


@torch.library.custom_op("mamba_monai::selective_scan_bwd", mutates_args=())
def selective_scan_bwd(
    dout: Tensor,
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Optional[Tensor],
    z: Optional[Tensor],
    delta_bias: Optional[Tensor],
    delta_softplus: bool,
    saved: Tensor,
    out_before_gate: Tensor,
    backend: str,
) -> list[Tensor]:
    """Gradients [du, ddelta, dA, dB, dC, dD, dz, ddelta_bias]; empty tensors for inputs that were None."""
    if backend == "compiled":
        grads = load_kernel().bwd(dout, u, delta, A, B, C, D, z, delta_bias, delta_softplus, saved, kernel_threads())
    elif backend == "mamba_ssm":
        grads = mamba_ssm_bwd(dout, u, delta, A, B, C, D, z, delta_bias, delta_softplus, saved, out_before_gate)
    elif backend == "triton":
        grads = triton_scan_bwd(dout, u, delta, A, B, C, D, z, delta_bias, delta_softplus, saved)
    elif backend == "reference":
        raise NotImplementedError(
            "selective_scan_bwd: the 'reference' backend is differentiated by autograd; call "
            "mamba_monai.ops.selective_scan_fn (which runs it as plain PyTorch) instead of the raw op"
        )
    else:
        raise ValueError(f"selective_scan: unknown backend {backend!r}")
    # a custom op may not return its inputs or views of them
    return [g.clone() if any(g is t for t in (u, delta, A, B, C, D, z, delta_bias, dout)) else g for g in grads]


@selective_scan_bwd.register_fake
def _selective_scan_bwd_fake(
    dout, u, delta, A, B, C, D, z, delta_bias, delta_softplus, saved, out_before_gate, backend
):
    def like(t):
        return torch.empty_like(t) if t is not None else u.new_empty((0,))

    return [like(t) for t in (u, delta, A, B, C, D, z, delta_bias)]


def _setup_context(ctx, inputs, output):
    u, delta, A, B, C, D, z, delta_bias, delta_softplus, backend = inputs
    _, last_state, saved, out_before_gate = output
    ctx.mark_non_differentiable(last_state, saved, out_before_gate)
    ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias, saved, out_before_gate)
    ctx.delta_softplus = delta_softplus
    ctx.backend = backend


def _backward(ctx, dout, _dlast_state, _dsaved, _dbefore_gate):
    u, delta, A, B, C, D, z, delta_bias, saved, out_before_gate = ctx.saved_tensors
    grads = torch.ops.mamba_monai.selective_scan_bwd(
        dout.contiguous(), u, delta, A, B, C, D, z, delta_bias, ctx.delta_softplus, saved, out_before_gate, ctx.backend
    )
    du, ddelta, dA, dB, dC, dD, dz, ddelta_bias = grads
    return (
        du,
        ddelta,
        dA,
        dB,
        dC,
        dD if D is not None else None,
        dz if z is not None else None,
        ddelta_bias if delta_bias is not None else None,
        None,
        None,
    )


selective_scan_fwd.register_autograd(_backward, setup_context=_setup_context)
