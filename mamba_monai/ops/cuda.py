"""The ``mamba_ssm`` backend: the CUDA selective-scan kernel of the installed ``mamba-ssm`` package.

Imported only for CUDA tensors: on a CPU-only machine ``mamba-ssm`` can be installed (when forced) but imports nothing
usable, so the CPU path never touches it.
"""

from __future__ import annotations

import threading
from types import ModuleType

import torch

__all__ = ["load_mamba_ssm_kernel", "mamba_ssm_unavailable_reason", "mamba_ssm_fwd", "mamba_ssm_bwd"]

_lock = threading.Lock()
_state: dict[str, object] = {}


def load_mamba_ssm_kernel() -> ModuleType:
    """Return ``selective_scan_cuda`` (shipped by mamba-ssm); RuntimeError naming what is missing otherwise."""
    with _lock:
        if "module" not in _state and "error" not in _state:
            try:
                import selective_scan_cuda  # noqa: PLC0415 - the compiled module installed by mamba-ssm

                _state["module"] = selective_scan_cuda
            except Exception as exc:  # ImportError, or an undefined-symbol OSError from a mismatched build
                _state["error"] = (
                    "mamba-ssm's CUDA kernel (module selective_scan_cuda) could not be imported "
                    f"({type(exc).__name__}: {exc}); since mamba-ssm 2.3 its kernel is built only with: "
                    "MAMBA_KEEP_CUDA_BUILD=TRUE pip install --no-build-isolation mamba-ssm"
                )
    if "module" in _state:
        return _state["module"]  # type: ignore[return-value]
    raise RuntimeError(_state["error"])


def mamba_ssm_unavailable_reason() -> str | None:
    """None if mamba-ssm's kernel imports, else the reason."""
    try:
        load_mamba_ssm_kernel()
    except RuntimeError as exc:
        return str(exc)
    return None


def mamba_ssm_fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus):
    """Forward with mamba-ssm. Returns (out, last_state, saved_states, out_before_gate)."""
    kernel = load_mamba_ssm_kernel()
    D = D.float() if D is not None else None
    delta_bias = delta_bias.float() if delta_bias is not None else None
    out, states, *rest = kernel.fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    last_state = states[:, :, -1, 1::2].clone()
    if z is not None:
        return rest[0], last_state, states, out
    return out, last_state, states, u.new_empty((0,))


def mamba_ssm_bwd(dout, u, delta, A, B, C, D, z, delta_bias, delta_softplus, states, out_before_gate):
    """Backward with mamba-ssm. Returns [du, ddelta, dA, dB, dC, dD, dz, ddelta_bias] (empty for absent inputs)."""
    kernel = load_mamba_ssm_kernel()
    D_f = D.float() if D is not None else None
    bias_f = delta_bias.float() if delta_bias is not None else None
    out = out_before_gate if z is not None else None
    du, ddelta, dA, dB, dC, dD, ddelta_bias, *rest = kernel.bwd(
        u, delta, A, B, C, D_f, z, bias_f, dout, states, out, None, delta_softplus, False
    )

    def empty():  # a new tensor each time: custom-op outputs may not alias each other
        return u.new_empty((0,))

    return [
        du,
        ddelta,
        dA,
        dB.to(B.dtype),
        dC.to(C.dtype),
        dD.to(D.dtype) if D is not None else empty(),
        rest[0] if z is not None else empty(),
        ddelta_bias.to(delta_bias.dtype) if delta_bias is not None else empty(),
    ]


def cuda_tensors(*tensors: torch.Tensor | None) -> bool:
    return any(t is not None and t.is_cuda for t in tensors)
