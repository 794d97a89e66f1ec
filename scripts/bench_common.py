"""What the benchmark scripts share. Imported by ``scripts/bench_*.py`` (their folder is on ``sys.path`` when they run).

* progress and report: :func:`log` (stderr), :func:`load_note`, :func:`fmt_time` / :func:`fmt_num` / :func:`ratio`,
  :func:`print_table` (a row label and one right-aligned cell per case), :func:`write_json_report`,
  :func:`machine_info`;
* options: :func:`parse_list`, :func:`device_and_precisions` (:func:`resolve_device`, :func:`default_precisions`),
  :func:`low_precision`;
* timing: :func:`time_repeats` (warm-up calls, then timed repeats of one call), :func:`time_interleaved` (every case
  once per repeat, so a neighbour's load spreads over all cases), :func:`synchronize`;
* peak memory: :func:`measure_peak_extra_bytes` (peak RSS above the level before the call on CPU, via
  ``/proc/self/clear_refs`` and ``VmHWM``; ``torch.cuda.max_memory_allocated`` on CUDA), :func:`limit_data_memory`
  (a budget that turns a case too large into an allocation error), :func:`is_out_of_memory`,
  :func:`mem_available_gb`;
* worker subprocesses: :func:`spawn_worker` runs ``python <script> --worker <spec JSON>`` in a fresh interpreter (one
  case per process, so its peak memory and lazy initialisation are its own); :func:`add_worker_argument` and
  :func:`serve_worker` are the script's side; :func:`prepare_compiled_kernel` builds the scan kernel before them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

__all__ = [
    "GB",
    "MB",
    "WorkerKilled",
    "add_worker_argument",
    "default_precisions",
    "device_and_precisions",
    "fmt_num",
    "fmt_time",
    "is_out_of_memory",
    "limit_data_memory",
    "load_note",
    "log",
    "low_precision",
    "machine_info",
    "measure_peak_extra_bytes",
    "mem_available_gb",
    "parse_list",
    "prepare_compiled_kernel",
    "print_table",
    "ratio",
    "read_status_kb",
    "reset_peak_rss",
    "resolve_device",
    "serve_worker",
    "spawn_worker",
    "synchronize",
    "time_interleaved",
    "time_repeats",
    "write_json_report",
]

GB = 1024.0**3
MB = 1024.0**2


def log(message: str) -> None:
    """Progress on stderr, so that stdout holds only the results."""
    print(message, file=sys.stderr, flush=True)


def parse_list(parser, text: str, choices, option: str) -> list[str]:
    """``"a,b"`` as a list of known names (duplicates dropped); an unknown name is a usage error naming ``option``."""
    names = [s.strip().lower() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in choices]
    if unknown or not names:
        parser.error(f"{option}: unknown {unknown or text!r}; choose from {', '.join(choices)}")
    return list(dict.fromkeys(names))


def low_precision(precision: str, device):
    """``torch.autocast`` for ``precision`` ``"bf16"``: bfloat16 on CPU, float16 on CUDA ("bf16" means the device's low
    precision); a no-op context for ``"fp32"``."""
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if device.type == "cpu" else torch.float16)


def synchronize(device) -> None:
    """Wait for the device's queued work (CUDA), so a timer measures it."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load_note(loads: list[float]) -> str | None:
    """A note when the 1-minute load average exceeded 1 during a run (other processes shared the cores)."""
    if not loads or max(loads) <= 1.0:
        return None
    return (
        f"note: 1-min load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores: other processes shared "
        "the CPUs; the cases were interleaved so the ratios are fairer than the absolute times"
    )


def fmt_time(seconds: float | None) -> str:
    """``1.23 s`` from one second up, ``12.3 ms`` below, ``-`` for None."""
    if seconds is None:
        return "-"
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    return f"{seconds * 1e3:.1f} ms"


def fmt_num(value: float | None, spec: str, suffix: str = "") -> str:
    """``value`` in the format ``spec`` followed by ``suffix``; ``-`` for None."""
    return "-" if value is None else f"{value:{spec}}{suffix}"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, None when either is missing (or the denominator is 0)."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def print_table(header: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]], label_width: int, width: int) -> None:
    """Print a table: a header of case names, then one line per row: its label and one cell per case.

    Args:
        header: the case names (column titles).
        rows: ``(label, cells)`` per row, the cells already formatted (e.g. by :func:`fmt_time`).
        label_width: width of the row labels (left-aligned, after two spaces).
        width: width of every cell (right-aligned).
    """
    print(f"  {'':<{label_width}}" + "".join(f"{title:>{width}}" for title in header))
    for label, cells in rows:
        print(f"  {label:<{label_width}}" + "".join(f"{cell:>{width}}" for cell in cells))


def write_json_report(path: str | os.PathLike, report: Mapping) -> None:
    """Write ``report`` as indented JSON to ``path`` (atomically) and say so on stderr."""
    from mamba_monai.utils import write_json_atomically

    write_json_atomically(path, report)
    log(f"wrote {path}")


def resolve_device(parser: argparse.ArgumentParser, device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU is a parser error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch.cuda.is_available() is False on this machine")
    return device


def default_precisions(device: str) -> str:
    """``fp32,bf16`` where ``device`` (``cpu`` or ``cuda``, see :func:`resolve_device`) runs the low precision
    natively (CUDA, or a CPU with AVX512-BF16 / AMX), else ``fp32``."""
    from mamba_monai.utils.precision import cpu_bf16_native

    return "fp32,bf16" if device == "cuda" or cpu_bf16_native() else "fp32"


def device_and_precisions(
    parser: argparse.ArgumentParser, device: str, precisions: str | None, choices: Sequence[str] = ("fp32", "bf16")
) -> tuple[str, list[str]]:
    """The ``--device`` and ``--precisions`` options resolved: the device (:func:`resolve_device`) and the list of
    precisions (by default :func:`default_precisions` of that device).

    Args:
        parser: the script's parser, for errors.
        device: ``auto``, ``cpu`` or ``cuda``.
        precisions: comma-separated precisions, or ``None`` for the device's default.
        choices: the precisions the script knows.
    """
    device = resolve_device(parser, device)
    if precisions is None:
        precisions = default_precisions(device)
    return device, parse_list(parser, precisions, choices, "--precisions")


def time_repeats(
    call: Callable[[], Any], repeats: int, warmup: int = 0, on_call: Callable[[int, float], None] | None = None
) -> list[float]:
    """Wall times of ``repeats`` calls of ``call``, after ``warmup`` untimed calls.

    Args:
        call: what to time.
        repeats: timed calls.
        warmup: untimed calls first.
        on_call: called after each timed call with its index (from 0) and time, e.g. to log progress.
    """
    for _ in range(warmup):
        call()
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
        if on_call is not None:
            on_call(i, times[-1])
    return times


def time_interleaved(
    calls: Mapping[Hashable, Callable[[], Any]], repeats: int, warmup: int = 1, gap: float = 0.0, shuffle: bool = False
) -> tuple[dict[Hashable, list[float]], list[float]]:
    """Wall times of every case, interleaved: each repeat runs every case once, so a neighbour's load spreads over all
    of them and their ratios stay fair. Returns the times per case and the 1-minute load averages (at the start and
    after each repeat).

    Args:
        calls: one call per case.
        repeats: timed rounds.
        warmup: untimed rounds first.
        gap: seconds of sleep before each timed call (untimed), so that each starts from a quiet process: OpenMP
            workers keep spinning for a while after a parallel call and would compete with the next call.
        shuffle: run each round's cases in a new random order (seeded: runs repeat), so that no case always
            follows the same one (what a call leaves behind, such as where the OS last ran a thread, can favour the
            next).
    """
    log(f"warm-up of {len(calls)} cases ... (load {os.getloadavg()[0]:.1f})")
    for _ in range(warmup):
        for call in calls.values():
            call()
    times: dict[Hashable, list[float]] = {key: [] for key in calls}
    loads = [os.getloadavg()[0]]
    order = random.Random(0)
    for r in range(repeats):
        keys = list(calls)
        if shuffle:
            order.shuffle(keys)
        for key in keys:
            call = calls[key]
            if gap > 0:
                time.sleep(gap)
            start = time.perf_counter()
            call()
            times[key].append(time.perf_counter() - start)
        loads.append(os.getloadavg()[0])
        log(f"repeat {r + 1}/{repeats} done (load {loads[-1]:.1f})")
    return times, loads


# ----------------------------------------------------------------------------------------------------------------------
# peak memory


def read_status_kb(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status (VmRSS, VmHWM, VmData), or None where there is no procfs."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0). False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


def measure_peak_extra_bytes(call: Callable[[], Any], device=None) -> float | None:
    """Peak memory above the current level while ``call()`` runs, in bytes: RSS on CPU (None where it cannot be
    measured), allocated tensors on CUDA.

    Args:
        call: what to measure.
        device: the torch device ``call`` runs on (None: the CPU).
    """
    if device is not None and device.type == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        call()
        return torch.cuda.max_memory_allocated(device) - before
    reset = reset_peak_rss()
    before = read_status_kb("VmRSS")
    call()
    peak = read_status_kb("VmHWM")
    if not reset or before is None or peak is None:
        return None
    return (peak - before) * 1024


def limit_data_memory(budget_gb: float) -> float | None:
    """Let this process allocate at most ``budget_gb`` more (RLIMIT_DATA over the current VmData), so that a case that
    does not fit fails with an allocation error instead of swapping or waking the OOM killer; the limit in GB."""
    data_kb = read_status_kb("VmData")
    if not budget_gb or data_kb is None:
        return None
    limit = int(data_kb * 1024 + budget_gb * GB)
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    return limit / GB


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says an allocation failed."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "out of memory" in text or "can't allocate memory" in text


def mem_available_gb() -> float | None:
    """MemAvailable of /proc/meminfo in GB, None where there is no procfs."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 / GB
    except OSError:
        return None
    return None


# ----------------------------------------------------------------------------------------------------------------------
# worker subprocesses


class WorkerKilled(RuntimeError):
    """A worker ended by a signal (SIGKILL: most likely the kernel's OOM killer)."""

    def __init__(self, signal: int) -> None:
        super().__init__(f"worker killed by signal {signal}")
        self.signal = signal


def add_worker_argument(parser: argparse.ArgumentParser) -> None:
    """The hidden ``--worker SPEC`` option by which :func:`spawn_worker` runs one case of the script."""
    parser.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)


def serve_worker(spec: str, run_worker: Callable[[dict], dict]) -> int:
    """The worker's side: run one case from its JSON ``spec`` and print the result as the last stdout line."""
    print(json.dumps(run_worker(json.loads(spec))))
    return 0


def spawn_worker(script: str, spec: Mapping, env: Mapping[str, str] | None = None) -> dict:
    """Run ``python <script> --worker <spec>`` in a fresh interpreter; its last stdout line is the JSON result.

    Its stderr (progress) passes through.

    Args:
        script: the benchmark script (its ``__file__``).
        spec: the case, as JSON-able data.
        env: the worker's environment (default: this one's).

    Raises:
        WorkerKilled: a signal ended the worker.
        RuntimeError: the worker failed otherwise (its error is printed above).
    """
    cmd = [sys.executable, os.path.abspath(script), "--worker", json.dumps(spec)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, env=None if env is None else dict(env), text=True)
    if proc.returncode < 0:
        raise WorkerKilled(-proc.returncode)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {spec} failed with exit code {proc.returncode} (its error is printed above)")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------------------------------
# the machine


def machine_info() -> dict:
    """CPU model, cores, torch version, OS and the 1-minute load average now."""
    import torch

    info = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "os": platform.platform(),
        "loadavg_1min_at_start": os.getloadavg()[0],
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return info


def prepare_compiled_kernel() -> None:
    """Build (or load from the cache) the C++ scan kernel once, before the workers need it."""
    from mamba_monai.ops.compiled import load_kernel

    start = time.perf_counter()
    log("loading the compiled kernel (the first build takes ~30 s) ...")
    load_kernel()
    log(f"  ready in {time.perf_counter() - start:.1f} s")
