"""medmamba.pt from YubiaoYue/MedMamba (``MedMamba.py``, ``VSSM``) at a tiny size, random perturbed weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.convert.generators.fixture_values import call_signature, perturbed_fixture
from tests.convert.generators.original_code import git_commit, install_cpu_stubs, load_module

CONFIG = {"in_chans": 3, "num_classes": 5, "depths": [1, 1, 2, 1], "dims": [8, 16, 32, 64], "d_state": 4}


def make(repository: Path, seed: int = 20261120) -> dict[str, Any]:
    install_cpu_stubs()
    original = load_module(repository, "MedMamba.py", "original_medmamba", stop_at="medmamba_t = ")
    model = original.VSSM(**CONFIG)
    fixture, _, _ = perturbed_fixture(model, seed, [2, 3, 64, 96])
    fixture["generator"] = "tests/convert/generators/medmamba.py"
    fixture["original"] = f"YubiaoYue/MedMamba@{git_commit(repository)} MedMamba.py {call_signature('VSSM', CONFIG)}"
    return fixture
