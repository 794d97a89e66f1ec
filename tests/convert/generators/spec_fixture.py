"""Fixtures too large to store as tensors: the original's keys, shapes and a seed, from which
:func:`tests.convert.fixture_tools.seeded_state_dict` recreates the weights; the input is recreated from its seed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from tests.convert.fixture_tools import seeded_input, seeded_state_dict
from tests.convert.generators.fixture_values import run_original, seeded_spec

__all__ = ["spec_fixture"]


def spec_fixture(
    model: nn.Module,
    seed: int,
    input_shape: list[int],
    input_seed: int,
    key_prefix: str = "",
    call: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, Any]:
    """``spec`` (keys with ``key_prefix``, as the original's checkpoints spell them), ``seed``, the input's shape and
    seed, and the original's output on the seeded weights and input."""
    spec = [[key_prefix + key, shape, dtype] for key, shape, dtype in seeded_spec(model)]
    values = seeded_state_dict(spec, seed)
    state = {key[len(key_prefix) :]: value for key, value in values.items()}
    x = seeded_input(input_shape, input_seed)
    return {
        "spec": spec,
        "seed": seed,
        "input_shape": input_shape,
        "input_seed": input_seed,
        "output": run_original(model, state, x, call),
    }
