"""Choice of selective-scan backend per call: by device and by ``MAMBA_MONAI_SCAN_BACKEND``.

``auto`` (default): for CUDA tensors ``mamba_ssm`` (mamba-ssm's kernel), else ``triton`` (our Triton kernels: Triton
ships with PyTorch's CUDA wheels), else ``chunked``; for CPU tensors ``compiled``, else ``chunked``; on other devices
``chunked`` (parallel over chunks of the sequence: 2 sqrt(2 L) sequential steps instead of L). Never the sequential
``reference`` while another backend can run. Each fallback warns once, naming what is missing and the command that
installs it. Naming a backend forces it: if it cannot run, the call raises.
"""

from __future__ import annotations

import os
import warnings

import torch

from mamba_monai.ops.compiled import kernel_unavailable_reason
from mamba_monai.ops.cuda import mamba_ssm_unavailable_reason
from mamba_monai.ops.triton_scan import triton_unavailable_reason

__all__ = ["BACKEND_ENV", "BACKEND_CHOICES", "requested_backend", "resolve_backend"]

BACKEND_ENV = "MAMBA_MONAI_SCAN_BACKEND"
BACKEND_CHOICES = ("auto", "compiled", "mamba_ssm", "triton", "chunked", "reference")
MAMBA_SSM_INSTALL = "MAMBA_KEEP_CUDA_BUILD=TRUE pip install --no-build-isolation mamba-ssm"
_warned: set[str] = set()


def requested_backend() -> str:
    """The backend asked for by the environment (``auto`` when unset)."""
    value = os.environ.get(BACKEND_ENV, "auto").strip().lower() or "auto"
    if value not in BACKEND_CHOICES:
        raise ValueError(f"{BACKEND_ENV}={value!r} is not one of {', '.join(BACKEND_CHOICES)}")
    return value


_DESCRIPTIONS = {"triton": "Triton ('triton')", "chunked": "pure-PyTorch 'chunked'"}


def _fallback(reason: str, backend: str, stacklevel: int = 4) -> str:
    """Warn once per reason (at the caller of ``selective_scan_fn``) that ``backend`` runs instead; return it."""
    if reason not in _warned:
        _warned.add(reason)
        what = _DESCRIPTIONS[backend]
        warnings.warn(
            f"mamba_monai: {reason}. Falling back to the {what} selective scan "
            f"(set {BACKEND_ENV}={backend} to silence this warning).",
            RuntimeWarning,
            stacklevel=stacklevel,
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
            raise RuntimeError(f"{BACKEND_ENV}=triton cannot run on {device}: {reason}")
        return "triton"
    if device.type == "cuda":
        return _cuda_backend(requested, device)
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


def _cuda_backend(requested: str, device: torch.device) -> str:
    """``mamba_ssm``, else ``triton``, else ``chunked`` for CUDA tensors (``requested`` is auto, compiled or mamba_ssm)."""
    if requested == "compiled":
        raise RuntimeError(f"{BACKEND_ENV}=compiled runs on CPU only, but the inputs are on {device}")
    reason = mamba_ssm_unavailable_reason()
    if reason is None:
        return "mamba_ssm"
    if requested == "mamba_ssm":
        raise RuntimeError(f"{BACKEND_ENV}=mamba_ssm, but {reason}")
    missing = reason if MAMBA_SSM_INSTALL in reason else f"{reason}; for mamba-ssm's CUDA kernel: {MAMBA_SSM_INSTALL}"
    triton_reason = triton_unavailable_reason(device)
    if triton_reason is None:
        return _fallback(missing, "triton", stacklevel=5)
    return _fallback(f"{missing}. Also {triton_reason}", "chunked", stacklevel=5)
