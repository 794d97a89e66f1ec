"""msmamba_tiny.pt from zs1314/Microscopic-Mamba (``microscopicmamba.py``, ``VSSM``): depths (1, 2), dims (32, 64),
5 classes, random perturbed weights; logits and the last stage's channel-last map on a square input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.convert.generators.fixture_values import perturbed_fixture, run_original
from tests.convert.generators.original_code import git_commit, install_cpu_stubs, load_module

ORIGINAL_CONFIG = {"num_classes": 5, "depths": [1, 2], "dims": [32, 64], "d_state": 16}
#: the same network in this package's names (the original's PSFFN swaps H and W: psffn_transpose_hw reproduces it)
CONFIG = {"in_channels": 3, "num_classes": 5, "depths": (1, 2), "dims": (32, 64), "psffn_transpose_hw": True}


def make(repository: Path, seed: int = 20261125) -> dict[str, Any]:
    install_cpu_stubs()
    original = load_module(
        repository, "microscopicmamba.py", "original_microscopicmamba", stop_at="microscopicmamba_t = "
    )
    model = original.VSSM(**ORIGINAL_CONFIG)
    fixture, state, x = perturbed_fixture(model, seed, [2, 3, 32, 32], float32=True)
    fixture["features"] = run_original(model, state, x, call=lambda m, inputs: m.forward_backbone(inputs))
    fixture["config"] = CONFIG
    fixture["note"] = (
        f"original zs1314/Microscopic-Mamba @ {git_commit(repository)} VSSM, random weights (perturbed); "
        "generator: tests/convert/generators/msmamba.py"
    )
    return fixture
