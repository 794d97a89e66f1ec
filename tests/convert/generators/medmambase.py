"""medmambase.pt from Tanjim-Islam/MedMambaSE (``main.ipynb``: cell 1, its pure-PyTorch selective scan; cell 3, the
model), ``VSSM`` at a tiny size, random perturbed weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.convert.generators.fixture_values import call_signature, perturbed_fixture
from tests.convert.generators.original_code import exec_notebook_cells, git_commit

CONFIG = {"in_chans": 3, "num_classes": 4, "depths": [1, 1, 1], "dims": [16, 32, 64], "d_state": 4}
CELLS = [1, 3]  # the selective scan, the network (main.ipynb @ d3a2166)


def make(repository: Path, seed: int = 20261121) -> dict[str, Any]:
    namespace = exec_notebook_cells(Path(repository) / "main.ipynb", CELLS)
    model = namespace["VSSM"](**CONFIG)
    fixture, _, _ = perturbed_fixture(model, seed, [2, 3, 48, 32])
    fixture["generator"] = "tests/convert/generators/medmambase.py"
    commit = git_commit(repository)
    fixture["original"] = f"Tanjim-Islam/MedMambaSE@{commit} main.ipynb {call_signature('VSSM', CONFIG)}"
    return fixture
