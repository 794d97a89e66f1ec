"""slicemamba.pt from fAnchao1/SliceMamba (``Evaluation/template/models/smunet/supernet_mamba.py``, the retrained
``VSSM`` that ``SMUNet`` wraps, hence the ``smunet.`` key prefix): 22 blocks at small widths, seeded weights, the
logits before SMUNet's sigmoid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.convert.generators.fixture_values import call_signature
from tests.convert.generators.original_code import git_commit, install_cpu_stubs, load_module
from tests.convert.generators.spec_fixture import spec_fixture

#: the architecture (one strip choice 0..3 per block), as the original's search writes it to arch.pkl
GENOTYPE = [0, 1, 2, 3, 3, 2, 1, 0, 3, 1, 2, 0, 1, 0, 0, 0, 0, 3, 2, 1, 3, 2]
CONFIG = {"in_chans": 3, "num_classes": 2, "depths": [2, 2, 9, 2], "depths_decoder": [2, 2, 2, 1],
          "dims": [16, 32, 64, 128], "dims_decoder": [128, 64, 32, 16], "d_state": 4}  # fmt: skip


def make(repository: Path) -> dict[str, Any]:
    install_cpu_stubs()
    path = "Evaluation/template/models/smunet/supernet_mamba.py"
    original = load_module(repository, path, "original_slicemamba")
    model = original.VSSM(architecture=GENOTYPE, **CONFIG)
    fixture = spec_fixture(model, seed=20261124, input_shape=[1, 3, 64, 64], input_seed=16, key_prefix="smunet.")
    fixture["genotype"] = list(GENOTYPE)
    fixture["generator"] = "tests/convert/generators/slicemamba.py"
    signature = call_signature("VSSM", {"architecture": "genotype", **CONFIG})
    fixture["original"] = f"fAnchao1/SliceMamba@{git_commit(repository)} {path} {signature} (logits, before sigmoid)"
    return fixture
