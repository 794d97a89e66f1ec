"""Mixed precision chosen by what the device runs natively.

* CUDA: float16 autocast (MONAI's engines add their ``GradScaler`` for it);
* CPU that runs bfloat16 natively (x86 AVX512-BF16 or AMX-BF16, ARM BF16 / SVE-BF16): bfloat16 autocast, no
  gradient scaler (bfloat16 has float32's exponent range, so gradients do not underflow);
* any other CPU, or any other device: float32 (autocast off), because emulated bfloat16 is slower than float32.

One switch turns it off everywhere: the environment variable ``MAMBA_MONAI_AMP=0`` (also ``false``/``off``/``no``).
The bundles expose the same switch as their ``amp`` option (``--amp false``).

The capability comes from ``torch.cpu.get_capabilities()`` (cpuinfo, the same source PyTorch's kernels dispatch on);
on PyTorch builds without it, from the ``flags``/``Features`` lines of ``/proc/cpuinfo``. Nothing is guessed from the
CPU's name.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Mapping
from typing import Any

import torch

from mamba_monai.utils.options import as_bool

__all__ = [
    "AMP_ENV_VAR",
    "amp_enabled_by_env",
    "autocast_context",
    "autocast_settings",
    "cpu_bf16_native",
    "engine_amp",
]

AMP_ENV_VAR = "MAMBA_MONAI_AMP"
# capability names (torch.cpu.get_capabilities() keys and /proc/cpuinfo flags) meaning "bf16 arithmetic in hardware"
_BF16_CAPABILITIES = ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16")
_BF16_CPUINFO_FLAGS = ("avx512_bf16", "amx_bf16", "bf16", "svebf16")


def _capabilities_from_torch() -> Mapping[str, Any] | None:
    get = getattr(getattr(torch, "cpu", None), "get_capabilities", None)
    if get is None:
        return None
    try:
        return get()
    except Exception:  # pragma: no cover - a broken cpuinfo must not break inference
        return None


def _flags_from_proc_cpuinfo(path: str = "/proc/cpuinfo") -> set[str]:
    flags: set[str] = set()
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip().lower() in ("flags", "features"):
                    flags.update(value.split())
    except OSError:
        return set()
    return flags


@functools.cache
def cpu_bf16_native() -> bool:
    """Whether this CPU has bfloat16 arithmetic instructions (AVX512-BF16, AMX-BF16, ARM BF16 or SVE-BF16).

    Cached: the answer does not change while the process runs.
    """
    caps = _capabilities_from_torch()
    if caps is not None:
        return any(bool(caps.get(name, False)) for name in _BF16_CAPABILITIES)
    flags = _flags_from_proc_cpuinfo()
    return any(flag in flags for flag in _BF16_CPUINFO_FLAGS)


def amp_enabled_by_env() -> bool:
    """False when ``MAMBA_MONAI_AMP`` turns mixed precision off; True when it is unset or on.

    Raises:
        ValueError: the variable holds something other than 0/1/true/false/on/off/yes/no.
    """
    value = os.environ.get(AMP_ENV_VAR)
    if value is None or not value.strip():
        return True
    return as_bool(value, AMP_ENV_VAR)


def _as_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _as_switch(enabled: Any, name: str = "amp") -> bool:
    return True if enabled is None else as_bool(enabled, name)


def autocast_settings(device: str | torch.device | None = None, enabled: Any = True) -> dict[str, Any]:
    """The ``torch.autocast`` arguments for ``device``: ``{"device_type", "dtype", "enabled"}``.

    Args:
        device: the device the network runs on (``None``: CUDA if available, else CPU).
        enabled: the caller's switch (a bundle's ``amp`` option); ``False`` gives float32. ``MAMBA_MONAI_AMP=0`` in
            the environment also gives float32.

    Returns:
        ``enabled`` is True only where the device runs the low precision natively; ``dtype`` is ``torch.float16`` on
        CUDA, ``torch.bfloat16`` on a CPU with native bfloat16, ``torch.float32`` otherwise.
    """
    dev = _as_device(device)
    on = _as_switch(enabled) and amp_enabled_by_env()
    if dev.type == "cuda":
        return {"device_type": "cuda", "dtype": torch.float16 if on else torch.float32, "enabled": on}
    if dev.type == "cpu" and on and cpu_bf16_native():
        return {"device_type": "cpu", "dtype": torch.bfloat16, "enabled": True}
    return {"device_type": dev.type, "dtype": torch.float32, "enabled": False}


def engine_amp(device: str | torch.device | None = None, enabled: Any = True) -> bool:
    """The ``amp`` argument for MONAI's ``SupervisedTrainer`` / ``SupervisedEvaluator``.

    MONAI 1.6 autocasts only ``"cuda"`` and, when ``amp`` is set, adds a CUDA float16 ``GradScaler``; on a CPU both
    would be no-ops with warnings (and a scaler has no place in bfloat16 training). So this is True only for CUDA
    with mixed precision on; CPU bfloat16 runs through :class:`mamba_monai.engines.AutocastInferer` instead.
    """
    settings = autocast_settings(device, enabled)
    return settings["device_type"] == "cuda" and settings["enabled"]


def autocast_context(
    device: str | torch.device | None = None, enabled: Any = True
) -> contextlib.AbstractContextManager:
    """``torch.autocast`` with :func:`autocast_settings`, or a null context where autocast is off."""
    settings = autocast_settings(device, enabled)
    if not settings["enabled"]:
        return contextlib.nullcontext()
    return torch.autocast(settings["device_type"], dtype=settings["dtype"])
