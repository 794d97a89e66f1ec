"""medmamba.pt from YubiaoYue/MedMamba (``MedMamba.py``, ``VSSM``) at a tiny size, random perturbed weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.convert.generators.fixture_values import half_input, perturbed_half_state, run_original
from tests.convert.generators.original_code import git_commit, install_cpu_stubs, load_module

CONFIG = {"in_chans": 3, "num_classes": 5, "depths": [1, 1, 2, 1], "dims": [8, 16, 32, 64], "d_state": 4}


def make(repository: Path, seed: int = 20261120) -> dict[str, Any]:
    install_cpu_stubs()
    original = load_module(repository, "MedMamba.py", "original_medmamba", stop_at="medmamba_t = ")
    model = original.VSSM(**CONFIG)
    state = perturbed_half_state(model, seed)
    x = half_input([2, 3, 64, 96], seed + 1)
    return {
        "state_dict": state,
        "input": x.half(),
        "output": run_original(model, state, x),
        "generator": "tests/convert/generators/medmamba.py",
        "original": f"YubiaoYue/MedMamba@{git_commit(repository)} MedMamba.py VSSM("
        + ", ".join(f"{k}={v}".replace(" ", "") for k, v in CONFIG.items())
        + ")",
    }
