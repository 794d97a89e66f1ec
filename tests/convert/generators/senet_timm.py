"""senet_timm.pt from timm's ResNet with SE-ResNeXt blocks (``seresnext50_32x4d``'s structure at a tiny size); timm is
a dependency of this package, so no checkout is needed (the repository argument is ignored)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.convert.generators.spec_fixture import spec_fixture


def make(repository: Path | None = None) -> dict[str, Any]:
    import timm
    from timm.models.resnet import Bottleneck, ResNet

    model = ResNet(
        Bottleneck, [1, 1, 1, 1], cardinality=4, base_width=4, block_args={"attn_layer": "se"}, num_classes=3
    )
    fixture = spec_fixture(model, seed=20261123, input_shape=[2, 3, 64, 80], input_seed=15)
    fixture["generator"] = "tests/convert/generators/senet_timm.py"
    fixture["original"] = (
        f"timm {timm.__version__} ResNet(Bottleneck, [1,1,1,1], cardinality=4, base_width=4, "
        "block_args=dict(attn_layer='se'), num_classes=3) (seresnext50_32x4d's structure)"
    )
    return fixture
