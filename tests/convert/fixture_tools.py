"""Fixtures of the conversion tests: original-layout state dicts and the original code's outputs.

The fixtures were generated once, outside this repository, by running the ORIGINAL code (see the generator named in
each fixture's "generator" entry); the tests need nothing but these files. Floating-point tensors are stored in
float16 (the originals ran with these float16-rounded values in float32) to keep the files small. Where the weights
would be too large to store (SE-ResNeXt's fixed widths: 2048 channels at the last stage; SliceMamba's 22 blocks at
widths whose final LayerNorm is not degenerate), the fixture holds the original's key names and shapes and seeds,
and :func:`seeded_state_dict` / :func:`seeded_input` recreate the values.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

FIXTURES = Path(__file__).parent / "fixtures"


def seeded_state_dict(spec: list[list[Any]], seed: int) -> dict[str, torch.Tensor]:
    """Deterministic values for ``[(key, shape, dtype), ...]``, at the scales of the networks' initialisations:
    convolutions and SSM projections 1/sqrt(fan-in), other matrices 0.02, normalisation weights and running
    variances around 1, other vectors small, integer counters 0. (Weights much larger than the initialisation's
    make deep residual networks chaotic: float32 rounding then grows block by block beyond the test tolerance.)"""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape, dtype in spec:
        if dtype != "float32":
            state[key] = torch.zeros(shape, dtype=getattr(torch, dtype))
            continue
        values = torch.randn(shape, generator=generator)
        if len(shape) >= 4:  # convolutions
            values = values / math.sqrt(math.prod(shape[1:]))
        elif key.endswith(("x_proj_weight", "dt_projs_weight")):  # SSM projections, at their own init's scale
            values = values / math.sqrt(shape[-1])
        elif len(shape) >= 2:  # linear layers: the trunc-normal(0.02) init of these networks
            values = 0.02 * values
        elif key.endswith("running_var"):
            values = 1 + 0.2 * values.abs()
        elif key.endswith("weight") and any(part in key for part in ("bn", "adn", "norm", "ln_")):
            values = 1 + 0.1 * values
        else:
            values = 0.1 * values
        state[key] = values
    return state


def seeded_input(shape: list[int], seed: int) -> torch.Tensor:
    """A deterministic standard-normal input, rounded through float16 like the stored inputs."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)).half().float()


def load_fixture(family: str) -> dict[str, Any]:
    """The fixture of ``family`` with its state dict in float32 (``state_dict`` in the original's layout)."""
    fixture = torch.load(FIXTURES / f"{family}.pt", weights_only=True)
    if "spec" in fixture:
        fixture["state_dict"] = seeded_state_dict(fixture["spec"], fixture["seed"])
    if "input_seed" in fixture:
        fixture["input"] = seeded_input(fixture["input_shape"], fixture["input_seed"])
    else:
        fixture["state_dict"] = {
            key: value.float() if value.is_floating_point() else value for key, value in fixture["state_dict"].items()
        }
    fixture["input"] = fixture["input"].float()
    return fixture
