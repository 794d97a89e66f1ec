"""The ``triton`` backend: the selective scan's forward and backward as Triton kernels (:mod:`.triton_kernels`).

Triton ships with PyTorch's CUDA wheels, so on a GPU this backend needs no compiler, toolkit or build step. Triton is
imported lazily, on the first scan that uses it: without Triton the package imports and the other backends run.

On CPU tensors the kernels run only in Triton's interpreter (``TRITON_INTERPRET=1`` in the environment before triton
is first imported, which ``torch._dynamo`` does): slow, meant for the tests that check the kernels without a GPU.
"""

from __future__ import annotations

import contextlib
import os
import threading
from types import ModuleType

import torch

__all__ = [
    "CHUNK",
    "TRITON_INSTALL",
    "saved_states_shape",
    "triton_unavailable_reason",
    "triton_scan_fwd",
    "triton_scan_bwd",
]

CHUNK = 64  # steps per chunk: the tile length of the kernels and the spacing of the forward's saved states
TRITON_INSTALL = "pip install triton"
INTERPRET_ENV = "TRITON_INTERPRET"

_lock = threading.Lock()
_state: dict[str, object] = {}


def _import_error() -> str | None:
    """None if triton imports, else why not (cached)."""
    with _lock:
        if "error" not in _state:
            try:
                import triton  # noqa: F401, PLC0415 - optional dependency

                _state["error"] = None
            except Exception as exc:  # ImportError, or a broken installation
                _state["error"] = f"Triton could not be imported ({type(exc).__name__}: {exc})"
    return _state["error"]  # type: ignore[return-value]


def _interpreter_requested() -> bool:
    return os.environ.get(INTERPRET_ENV, "0").strip().lower() in ("1", "true", "yes", "on")


def _kernels() -> ModuleType:
    from mamba_monai.ops import triton_kernels  # noqa: PLC0415 - imports triton

    return triton_kernels


def _kernels_interpreted() -> bool:
    """Whether the kernels, and Triton's own library functions they call, are Triton-interpreted functions: Triton
    decides at decoration time, so ``TRITON_INTERPRET=1`` must be set before triton is first imported."""
    import triton.language.standard as standard  # noqa: PLC0415 - triton's @triton.jit library (tl.zeros, tl.sum...)

    functions = [_kernels().selective_scan_fwd_kernel, *vars(standard).values()]
    return not any(type(f).__name__ == "JITFunction" for f in functions)


# The backward kernel's atomics compile to PTX ".acq_rel" operations, which ptxas accepts from sm_70 on (the compile
# test, tests/ops/triton_gpu_compile.py, builds both kernels for sm_70 and sm_80).
MIN_CUDA_CAPABILITY = (7, 0)


def _gpu_unsupported_reason(device: torch.device) -> str | None:
    """Why the kernels cannot be compiled for this CUDA device (an NVIDIA GPU older than Volta), or None."""
    if torch.version.hip is not None:  # ROCm devices are "cuda" too; Triton's AMD backend has its own checks
        return None
    if not torch.cuda.is_available():  # asked about CUDA in general (mamba-monai info without a GPU): nothing to check
        return None
    major, minor = torch.cuda.get_device_capability(device)
    if (major, minor) < MIN_CUDA_CAPABILITY:
        name = torch.cuda.get_device_name(device)
        need = ".".join(map(str, MIN_CUDA_CAPABILITY))
        return f"the Triton kernels need an NVIDIA GPU of compute capability {need} or newer; {name} is {major}.{minor}"
    return None


def triton_unavailable_reason(device: torch.device) -> str | None:
    """None if the Triton kernels can run on ``device``, else the reason and what would make them run."""
    error = _import_error()
    if error is not None:
        return f"{error}; install it with: {TRITON_INSTALL}"
    if device.type == "cuda":
        return _gpu_unsupported_reason(device)
    if device.type == "cpu":
        if not _interpreter_requested():
            return (
                "the Triton kernels run on CUDA tensors (on CPU tensors only in Triton's slow interpreter, enabled by "
                f"{INTERPRET_ENV}=1 in the environment before triton is first imported)"
            )
        if not _kernels_interpreted():
            return f"{INTERPRET_ENV}=1 was set after triton had been imported (it must be set before)"
        return None
    return f"the Triton kernels run on CUDA tensors, not on device type '{device.type}'"


def saved_states_shape(u: torch.Tensor, A: torch.Tensor) -> tuple[int, int, int, int]:
    """Shape of the forward's saved states: (batch, dim, chunks, dstate), the state before every ``CHUNK`` steps."""
    batch, dim, length = u.shape
    return batch, dim, (length + CHUNK - 1) // CHUNK, A.shape[1]


def _state_dtype(u: torch.Tensor) -> torch.dtype:
    return torch.float64 if u.dtype == torch.float64 else torch.float32


def _launch_config(u: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> dict:
    import triton  # noqa: PLC0415

    batch, dim, length = u.shape
    groups, dstate = B.shape[1], A.shape[1]
    state_dtype = _state_dtype(u)
    return {
        "grid": (dim, batch),
        "shape": dict(dim=dim, length=length, dstate=dstate, groups=groups, per_group=dim // groups),
        "n_chunks": (length + CHUNK - 1) // CHUNK,
        "meta": dict(
            ACC=triton.language.float64 if state_dtype == torch.float64 else triton.language.float32,
            BLOCK_N=triton.next_power_of_2(dstate),
            BLOCK_L=CHUNK,
        ),
        "state_dtype": state_dtype,
    }


def _check_contiguous(**tensors: torch.Tensor | None) -> None:
    """The kernels index flat memory: every tensor must be contiguous (``selective_scan_fn`` makes them so)."""
    for name, t in tensors.items():
        if t is not None and not t.is_contiguous():
            raise RuntimeError(f"selective_scan (triton): {name} must be contiguous")


def _on_device(u: torch.Tensor):
    """The CUDA device of ``u`` made current (Triton launches on the current device); nothing for CPU tensors."""
    return torch.cuda.device(u.device) if u.is_cuda else contextlib.nullcontext()


def triton_scan_fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus):
    """Forward on contiguous inputs with grouped B, C (batch, groups, dstate, len).

    Returns:
        (out, last_state, saved_states): ``out`` like ``u``; ``last_state`` (batch, dim, dstate) and the saved states
        (:func:`saved_states_shape`) in float32 (float64 for float64 ``u``).
    """
    _check_contiguous(u=u, delta=delta, A=A, B=B, C=C, D=D, z=z, delta_bias=delta_bias)
    kernels = _kernels()
    config = _launch_config(u, A, B)
    batch, dim, _ = u.shape
    out = torch.empty_like(u)
    last_state = u.new_empty((batch, dim, A.shape[1]), dtype=config["state_dtype"])
    saved = u.new_empty(saved_states_shape(u, A), dtype=config["state_dtype"])
    if batch * dim == 0:  # no program to launch (an empty grid is not allowed)
        return out, last_state, saved
    with _on_device(u):
        kernels.selective_scan_fwd_kernel[config["grid"]](
            u, delta, A, B, C,
            D if D is not None else u, z if z is not None else u, delta_bias if delta_bias is not None else u,
            out, last_state, saved,
            **config["shape"], n_chunks=config["n_chunks"],
            HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None, SOFTPLUS=bool(delta_softplus),
            **config["meta"],
        )  # fmt: skip
    return out, last_state, saved


def triton_scan_bwd(dout, u, delta, A, B, C, D, z, delta_bias, delta_softplus, saved):
    """Backward from the forward's saved states. Returns [du, ddelta, dA, dB, dC, dD, dz, ddelta_bias], each with its
    input's dtype (empty tensors for inputs that were None)."""
    _check_contiguous(dout=dout, u=u, delta=delta, A=A, B=B, C=C, D=D, z=z, delta_bias=delta_bias, saved=saved)
    kernels = _kernels()
    config = _launch_config(u, A, B)
    acc = config["state_dtype"]
    batch, dim, _ = u.shape
    du, ddelta = torch.empty_like(u), torch.empty_like(delta)
    dz = torch.empty_like(z) if z is not None else u.new_empty((0,))
    dA = u.new_empty((batch, dim, A.shape[1]), dtype=acc)
    dB, dC = torch.zeros_like(B, dtype=acc), torch.zeros_like(C, dtype=acc)
    dD = u.new_zeros((batch, dim), dtype=acc)
    dbias = u.new_zeros((batch, dim), dtype=acc)
    if batch * dim:  # (an empty grid is not allowed)
        with _on_device(u):
            kernels.selective_scan_bwd_kernel[config["grid"]](
                dout, u, delta, A, B, C,
                D if D is not None else u, z if z is not None else u, delta_bias if delta_bias is not None else u,
                saved,
                du, ddelta, dA, dB, dC, dD, dz if z is not None else u, dbias,
                **config["shape"], n_chunks=config["n_chunks"],
                HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None,
                SOFTPLUS=bool(delta_softplus), **config["meta"],
            )  # fmt: skip

    def empty():  # a new tensor each time: custom-op outputs may not alias each other
        return u.new_empty((0,))

    return [
        du,
        ddelta,
        dA.sum(0).to(A.dtype),
        dB.to(B.dtype),
        dC.to(C.dtype),
        dD.sum(0).to(D.dtype) if D is not None else empty(),
        dz,
        dbias.sum(0).to(delta_bias.dtype) if delta_bias is not None else empty(),
    ]
