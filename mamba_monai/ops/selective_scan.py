"""Public selective-scan function, a drop-in for ``mamba_ssm.ops.selective_scan_interface.selective_scan_fn``."""

from __future__ import annotations

import torch

from mamba_monai.ops import registration  # noqa: F401 - registers torch.ops.mamba_monai.*
from mamba_monai.ops.backends import resolve_backend
from mamba_monai.ops.chunked import selective_scan_chunked
from mamba_monai.ops.onnx_scan import selective_scan_scan_loop
from mamba_monai.ops.reference import selective_scan_ref
from mamba_monai.ops.validation import check_scan_inputs

__all__ = ["selective_scan_fn"]


def _overrides_torch_function(t: torch.Tensor) -> bool:
    """True for subclasses like MetaTensor that intercept torch functions (not for fake/functional tensors)."""
    return getattr(type(t).__torch_function__, "__func__", None) is not torch.Tensor.__torch_function__.__func__


def _plain(t: torch.Tensor | None) -> torch.Tensor | None:
    """Contiguous plain tensor: subclasses such as MONAI's MetaTensor are unwrapped (autograd is kept)."""
    if t is None:
        return None
    if not torch.compiler.is_compiling() and _overrides_torch_function(t):
        t = t.as_subclass(torch.Tensor)
    return t.contiguous()


def selective_scan_fn(
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
    """Selective scan (Mamba's S6 recurrence), same arguments and shapes as mamba-ssm's ``selective_scan_fn``.

    ``h_t = exp(dt_t A) h_{t-1} + dt_t B_t u_t``, ``y_t = C_t h_t + D u_t``, output ``y * silu(z)``, with
    ``dt = softplus(delta + delta_bias)`` when ``delta_softplus``.

    Args:
        u: input, (batch, dim, len).
        delta: time steps, (batch, dim, len).
        A: real state matrix, (dim, dstate).
        B: (batch, dstate, len), or grouped (batch, groups, dstate, len): channel d uses group d // (dim / groups).
        C: same shape as B.
        D: skip weight, (dim,).
        z: gate, (batch, dim, len).
        delta_bias: (dim,), added to delta before the softplus.
        delta_softplus: apply softplus to delta.
        return_last_state: also return the final state, (batch, dim, dstate), float32 (no gradient flows through it).

    The backend (compiled C++ kernel on CPU; mamba-ssm's kernel, else our Triton kernels on CUDA; else the pure-PyTorch
    chunked scan) is chosen per call (:mod:`mamba_monai.ops.backends`); ``MAMBA_MONAI_SCAN_BACKEND`` forces one.
    fp16/bf16 inputs are accumulated in fp32.

    Raises:
        ValueError: the inputs do not form a selective scan; the message names the argument and the shapes.
    """
    if not torch.jit.is_tracing():  # under tracing the shapes are constants; the kernel still checks them
        check_scan_inputs(u, delta, A, B, C, D, z, delta_bias)
    u, delta, A, B, C, D, z, delta_bias = (_plain(t) for t in (u, delta, A, B, C, D, z, delta_bias))
    if torch.onnx.is_in_onnx_export():  # the custom op has no ONNX translation: export the loop as one ONNX Scan
        return selective_scan_scan_loop(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
    backend = resolve_backend(u.device)
    if backend == "reference":
        return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
    if backend == "chunked":
        return selective_scan_chunked(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
    if B.dim() == 3:
        B, C = B.unsqueeze(1), C.unsqueeze(1)
    out, last_state, _, _ = torch.ops.mamba_monai.selective_scan_fwd(
        u, delta, A, B.contiguous(), C.contiguous(), D, z, delta_bias, bool(delta_softplus), backend
    )
    return (out, last_state) if return_last_state else out
