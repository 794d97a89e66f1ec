"""Choice of selective-scan backend per call: by device and by ``MAMBA_MONAI_SCAN_BACKEND``.

``auto`` (default): for CUDA tensors mamba-ssm's kernel when ``selective_scan_cuda`` imports, else ``triton`` (Triton
ships with PyTorch's CUDA wheels), else ``chunked``; for CPU tensors the ``compiled`` kernel, else ``chunked``; other
devices (MPS, ...) ``chunked`` (parallel over chunks of the sequence: 2 sqrt(2 L) sequential steps instead of L).
Never the sequential ``reference``; each fallback warns once, naming what is missing and the command that installs
it. Naming a backend forces it: if it cannot run, the call raises. ``triton`` runs CPU tensors only under Triton's
interpreter (``TRITON_INTERPRET=1``, how its kernels are tested without a GPU).
"""

from __future__ import annotations

import importlib.util
import os
import warnings

import torch

from mamba_monai.ops.compiled import kernel_unavailable_reason
from mamba_monai.ops.cuda import mamba_ssm_unavailable_reason

__all__ = ["BACKEND_ENV", "BACKEND_CHOICES", "requested_backend", "resolve_backend"]

BACKEND_ENV = "MAMBA_MONAI_SCAN_BACKEND"
BACKEND_CHOICES = ("auto", "compiled", "reference", "chunked", "mamba_ssm", "triton")
MAMBA_SSM_INSTALL = "MAMBA_KEEP_CUDA_BUILD=TRUE pip install --no-build-isolation mamba-ssm"
TRITON_INSTALL = "pip install triton (PyTorch's CUDA wheels include it)"
_warned: set[str] = set()


def triton_unavailable_reason(device: torch.device) -> str | None:
    """None if the ``triton`` backend can run on ``device``, else why not."""
    if importlib.util.find_spec("triton") is None:
        return f"Triton is not installed ({TRITON_INSTALL})"
    if device.type == "cuda":
        return None
    if device.type == "cpu" and os.environ.get("TRITON_INTERPRET", "") == "1":
        return None
    return f"Triton kernels need CUDA tensors (or TRITON_INTERPRET=1 for CPU tensors), the inputs are on {device}"


def requested_backend() -> str:
    """The backend asked for by the environment (``auto`` when unset)."""
    value = os.environ.get(BACKEND_ENV, "auto").strip().lower() or "auto"
    if value not in BACKEND_CHOICES:
        raise ValueError(f"{BACKEND_ENV}={value!r} is not one of {', '.join(BACKEND_CHOICES)}")
    return value


def _fallback(reason: str, backend: str = "reference") -> str:
    if reason not in _warned:
        _warned.add(reason)
        what = {"chunked": "pure-PyTorch 'chunked'", "triton": "Triton"}.get(backend, "slow pure-PyTorch 'reference'")
        warnings.warn(
            f"mamba_monai: {reason}. Falling back to the {what} selective scan "
            f"(set {BACKEND_ENV}={backend} to silence this warning).",
            RuntimeWarning,
            stacklevel=4,
        )
    return backend


def resolve_backend(device: torch.device) -> str:
    """Name of the backend that runs a scan on ``device``: ``compiled``, ``mamba_ssm``, ``triton``, ``chunked`` or
    ``reference``."""
    requested = requested_backend()
    if requested in ("reference", "chunked"):
        return requested
    if requested == "triton":
        reason = triton_unavailable_reason(device)
        if reason is not None:
            raise RuntimeError(f"{BACKEND_ENV}=triton, but {reason}")
        return "triton"
    if device.type == "cuda":
        if requested == "compiled":
            raise RuntimeError(f"{BACKEND_ENV}=compiled runs on CPU only, but the inputs are on {device}")
        reason = mamba_ssm_unavailable_reason()
        if reason is None:
            return "mamba_ssm"
        if requested == "mamba_ssm":
            raise RuntimeError(f"{BACKEND_ENV}=mamba_ssm, but {reason}")
        triton_reason = triton_unavailable_reason(device)
        if triton_reason is None:
            return _fallback(f"{reason}. For mamba-ssm's own CUDA kernel: {MAMBA_SSM_INSTALL}", "triton")
        return _fallback(
            f"{reason}; and {triton_reason}. For mamba-ssm's own CUDA kernel: {MAMBA_SSM_INSTALL}", "chunked"
        )
    if device.type != "cpu":
        if requested != "auto":
            raise RuntimeError(f"{BACKEND_ENV}={requested} cannot run on {device}")
        return _fallback(f"no selective-scan kernel for device type '{device.type}'", "chunked")
    if requested == "mamba_ssm":
        raise RuntimeError(
            f"{BACKEND_ENV}=mamba_ssm needs CUDA tensors, but the inputs are on {device}: unset {BACKEND_ENV} (or set "
            "it to auto) to use the compiled CPU kernel"
        )
    reason = kernel_unavailable_reason()
    if reason is None:
        return "compiled"
    if requested == "compiled":
        raise RuntimeError(f"{BACKEND_ENV}=compiled, but {reason}")
    return _fallback(f"{reason}; the compiled kernel needs a C++ compiler (g++ or clang) and ninja", "chunked")
