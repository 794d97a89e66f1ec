"""What the benchmark scripts share: logging to stderr, list options, the low-precision context, device sync and the
note on a loaded machine. Imported by ``scripts/bench_*.py`` (their folder is on ``sys.path`` when they run)."""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["load_note", "log", "low_precision", "parse_list", "synchronize"]


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
