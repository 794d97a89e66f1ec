"""Weights and inputs of the fixtures: random but reproducible, at scales where the originals' outputs are not
degenerate, rounded through float16 (what the fixtures store) before the original runs on them."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from mamba_monai.utils.atomic_files import write_bytes_atomically
from tests.convert.fixture_tools import seeded_input

__all__ = [
    "call_signature",
    "half_input",
    "perturbed_fixture",
    "perturbed_half_state",
    "run_original",
    "save_fixture",
    "seeded_spec",
]


def perturbed_half_state(model: nn.Module, seed: int, scale: float = 0.1) -> dict[str, torch.Tensor]:
    """The model's state with every floating tensor perturbed (``x + scale * |x|.mean() * noise``, running variances
    kept positive), so that conversions that mix tensors up change the outputs; rounded to float16."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            noise = torch.randn(value.shape, generator=generator)
            value = value + scale * (value.abs().mean() + 0.05) * noise
            if key.endswith("running_var"):
                value = value.abs() + 0.5
            value = value.half()
        state[key] = value
    return state


def seeded_spec(model: nn.Module) -> list[list[Any]]:
    """``[[key, shape, dtype], ...]`` of the model's state (what spec fixtures store instead of the tensors)."""
    return [[key, list(value.shape), str(value.dtype).split(".")[-1]] for key, value in model.state_dict().items()]


def run_original(
    model: nn.Module, state: dict[str, torch.Tensor], x: torch.Tensor, call: Callable | None = None
) -> torch.Tensor:
    """Load ``state`` (float32) strictly, run ``model`` (or ``call(model, x)``) in eval mode without gradients."""
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=True)
    model.eval()
    with torch.no_grad():
        return (call(model, x) if call is not None else model(x)).float()


def half_input(shape: list[int], seed: int) -> torch.Tensor:
    """A standard-normal input rounded through float16 (as stored)."""
    return seeded_input(shape, seed)


def perturbed_fixture(
    model: nn.Module, seed: int, input_shape: list[int], float32: bool = False
) -> tuple[dict[str, Any], dict[str, torch.Tensor], torch.Tensor]:
    """The stored part of a fixture with random perturbed weights (``state_dict``, ``input``, ``output``; float16
    tensors, or float32 with ``float32``: the same rounded values), plus the state and input to run more on."""
    state = perturbed_half_state(model, seed)
    x = half_input(input_shape, seed + 1)
    stored = {k: v.float() if v.is_floating_point() else v for k, v in state.items()} if float32 else state
    fixture = {"state_dict": stored, "input": x if float32 else x.half(), "output": run_original(model, state, x)}
    return fixture, state, x


def call_signature(name: str, arguments: dict[str, Any]) -> str:
    """``name(a=1, b=[1,2])``: how the fixture records the original's constructor call."""
    return f"{name}(" + ", ".join(f"{k}={v}".replace(" ", "") for k, v in arguments.items()) + ")"


def save_fixture(fixture: dict[str, Any], path: str | os.PathLike) -> None:
    """``torch.save`` atomically; prints what was written."""
    import io

    buffer = io.BytesIO()
    torch.save(fixture, buffer)
    written = write_bytes_atomically(path, buffer.getvalue())
    print(f"wrote {written} ({written.stat().st_size} bytes)")
