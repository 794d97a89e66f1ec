"""The scalar entries of an engine's ``state.metrics`` (numbers and one-element tensors/arrays) as floats."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["scalar_metrics"]


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The entries of ``metrics`` that are single numbers, as floats (booleans, sequences and dicts are skipped).

    Args:
        metrics: e.g. ``engine.state.metrics``.
    """
    scalars: dict[str, float] = {}
    for name, value in metrics.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float, np.number)):
            scalars[name] = float(value)
        elif isinstance(value, torch.Tensor) and value.numel() == 1:
            scalars[name] = float(value.detach().cpu().item())
        elif isinstance(value, np.ndarray) and value.size == 1:
            scalars[name] = float(value.item())
    return scalars
