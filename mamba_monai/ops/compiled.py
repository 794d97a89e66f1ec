"""The compiled CPU backend: builds ``kernels/selective_scan`` on first use and caches the result.

The kernel is compiled for the machine that runs it (``-O3 -march=native -fopenmp``) with
:func:`torch.utils.cpp_extension.load`, which keeps the build in ``TORCH_EXTENSIONS_DIR`` (default
``~/.cache/torch_extensions``) and rebuilds only when the source or flags change. The cache is keyed by the extension's name alone, so the name
carries a hash of everything that makes a build differ: the CPU's feature flags (a cache shared between machines never
hands one the other's instructions), the kernel source's path, and the Python and PyTorch installation (two virtual
environments, or two checkouts, sharing one cache would otherwise rebuild over each other on every first use).

Threads: the kernel runs on :func:`kernel_threads` threads. When several processes share a machine (``torchrun``,
``LOCAL_WORLD_SIZE`` or ``WORLD_SIZE`` set) and ``OMP_NUM_THREADS`` is not set, each process takes its share of the
cores (``cores // local world size``, at least 1) instead of all of them, and says so once in the log.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

__all__ = ["kernel_source_dir", "kernel_threads", "load_kernel", "kernel_unavailable_reason"]

_lock = threading.Lock()
_module: ModuleType | None = None
_error: str | None = None
_logged_threads: int | None = None
logger = logging.getLogger(__name__)


def processes_per_machine(env: Mapping[str, str]) -> int:
    """Processes sharing this machine according to the launcher's variables (``LOCAL_WORLD_SIZE``, else ``WORLD_SIZE``)."""
    for name in ("LOCAL_WORLD_SIZE", "WORLD_SIZE"):
        value = env.get(name, "").strip()
        if value.isdigit() and int(value) >= 1:
            return int(value)
    return 1


def kernel_threads(
    env: Mapping[str, str] | None = None, cores: int | None = None, torch_threads: int | None = None
) -> int:
    """Threads for one kernel call: torch's thread count, capped at ``cores // processes`` when several processes share
    the machine and ``OMP_NUM_THREADS`` does not say otherwise (the user's or launcher's choice is kept)."""
    env = os.environ if env is None else env
    if torch_threads is None:
        import torch

        torch_threads = torch.get_num_threads()
    processes = processes_per_machine(env)
    if processes == 1 or env.get("OMP_NUM_THREADS", "").strip():
        return torch_threads
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = max(1, min(torch_threads, cores // processes))
    global _logged_threads
    if threads != _logged_threads:
        _logged_threads = threads
        logger.info(
            "selective scan kernel: %d thread(s) per process (%d cores shared by %d processes, OMP_NUM_THREADS unset)",
            threads,
            cores,
            processes,
        )
    return threads


def kernel_source_dir() -> Path:
    """Folder holding ``selective_scan.cpp``: ``kernels/`` of a source checkout, or ``mamba_monai/_kernels`` in a wheel."""
    package_dir = Path(__file__).resolve().parents[1]
    for candidate in (package_dir.parent / "kernels" / "selective_scan", package_dir / "_kernels" / "selective_scan"):
        if (candidate / "selective_scan.cpp").is_file():
            return candidate
    raise FileNotFoundError(f"selective_scan.cpp not found next to {package_dir} (kernels/selective_scan/)")


def _build_tag() -> str:
    import sys

    import torch

    flags = "|".join((platform.machine(), str(kernel_source_dir()), sys.prefix, torch.__version__, torch.__file__))
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    flags += "|" + line
                    break
    except OSError:
        pass
    return hashlib.sha1(flags.encode()).hexdigest()[:8]


def _compile_flags() -> list[str]:
    # -fopenmp: without it at::parallel_for silently runs on one thread.
    # -fno-trapping-math: lets gcc if-convert the branch-free softplus/exp selects, so those loops vectorise
    # (with trapping math it keeps them as branches: 5x slower forward). No code here relies on FP exceptions.
    flags = ["-O3", "-march=native", "-fopenmp", "-fno-trapping-math"]
    if platform.machine() in ("x86_64", "AMD64"):
        flags.append("-mprefer-vector-width=512")  # use full AVX-512 registers where the CPU has them
    return flags


def _build() -> ModuleType:
    # cpp_extension warns at import that no CUDA runtime is found: irrelevant to this CPU-only build
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    from torch.utils import cpp_extension

    compiler = os.environ.get("CXX", "c++")
    if shutil.which(compiler) is None:
        raise RuntimeError(f"no C++ compiler found (looked for '{compiler}' on PATH; set CXX or install g++)")
    if shutil.which("ninja") is None and not cpp_extension.is_ninja_available():
        raise RuntimeError("ninja is not installed (pip install ninja)")
    source = kernel_source_dir() / "selective_scan.cpp"
    return cpp_extension.load(
        name=f"mamba_monai_selective_scan_{_build_tag()}",
        sources=[str(source)],
        extra_cflags=_compile_flags(),
        extra_ldflags=["-fopenmp"],
        verbose=os.environ.get("MAMBA_MONAI_VERBOSE_BUILD", "0") == "1",
    )


def load_kernel() -> ModuleType:
    """Return the compiled extension, building it on first call. Raises RuntimeError with the reason if it cannot."""
    global _module, _error
    if _module is not None:
        return _module
    with _lock:
        if _module is None:
            if _error is not None:
                raise RuntimeError(_error)
            try:
                _module = _build()
            except Exception as exc:  # any build failure means: no compiled backend on this machine
                _error = f"the C++ selective-scan kernel could not be built: {type(exc).__name__}: {exc}"
                raise RuntimeError(_error) from exc
    return _module


def kernel_unavailable_reason() -> str | None:
    """None if the compiled kernel loads, else why not (builds it on first call)."""
    try:
        load_kernel()
    except RuntimeError as exc:
        return str(exc)
    return None
