"""senet.pt from Cadene's pretrainedmodels (``pretrainedmodels/models/senet.py``, ``SENet`` with SE-ResNeXt
bottlenecks, ``se_resnext50_32x4d``'s structure at a tiny size). The repository argument is a checkout of
github.com/Cadene/pretrained-models.pytorch (or an installed ``pretrainedmodels`` package folder's parent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.convert.generators.original_code import load_module
from tests.convert.generators.spec_fixture import spec_fixture

CONFIG = {
    "layers": [1, 1, 1, 1],
    "groups": 4,
    "reduction": 4,
    "dropout_p": None,
    "inplanes": 16,
    "input_3x3": False,
    "downsample_kernel_size": 1,
    "downsample_padding": 0,
    "num_classes": 5,
}


def make(repository: Path) -> dict[str, Any]:
    original = load_module(repository, "pretrainedmodels/models/senet.py", "original_senet")
    model = original.SENet(original.SEResNeXtBottleneck, **CONFIG)
    fixture = spec_fixture(model, seed=20261122, input_shape=[1, 3, 224, 224], input_seed=14)
    fixture["generator"] = "tests/convert/generators/senet.py"
    fixture["original"] = f"pretrainedmodels senet.py SENet(SEResNeXtBottleneck, {CONFIG})"
    return fixture
