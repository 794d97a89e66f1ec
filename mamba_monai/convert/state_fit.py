"""Check that a state dict fits a network exactly, and say readably where it does not."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from mamba_monai.utils.listing import listing

__all__ = ["fit_problems", "fit_report"]


def fit_problems(network: nn.Module, state: Mapping[str, Any], limit: int = 5) -> list[str]:
    """What keeps ``network.load_state_dict(state, strict=True)`` from working: missing keys, unexpected keys and
    tensors of the wrong shape, each with the first ``limit`` names. Empty when the state dict fits."""
    target = network.state_dict()
    missing = [key for key in target if key not in state]
    unexpected = [key for key in state if key not in target]
    shapes = [
        f"{key} {tuple(value.shape)} (network: {tuple(target[key].shape)})"
        for key, value in state.items()
        if key in target
        and isinstance(value, torch.Tensor)
        and isinstance(target[key], torch.Tensor)
        and value.shape != target[key].shape
    ]
    return fit_report(missing, unexpected, shapes, limit)


def fit_report(missing: list[str], unexpected: list[str], wrong_shape: list[str], limit: int = 5) -> list[str]:
    """The fit problems as sentences, each with a count and the first ``limit`` names; empty when all lists are.

    Args:
        missing: keys the network has and the state dict does not fill.
        unexpected: keys of the state dict that are not part of the network.
        wrong_shape: descriptions of tensors whose shape differs from the network's.
        limit: names listed per problem.
    """
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {listing(missing, limit)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {listing(unexpected, limit)}")
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} tensor(s) of the wrong shape: {listing(wrong_shape, limit)}")
    return problems
