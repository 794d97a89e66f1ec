"""ResizeShorterSide: the shorter side becomes ``size`` with the aspect ratio kept, as torchvision's Resize(n)."""

from __future__ import annotations

import pytest
import torch
from monai.transforms import Resize

from mamba_monai.data.transforms import ResizeShorterSide, ResizeShorterSided


@pytest.mark.parametrize("shape,expected", [((3, 40, 100), (16, 40)), ((1, 90, 30), (48, 16)), ((3, 16, 16), (16, 16))])
def test_shorter_side_becomes_size(shape, expected):
    image = torch.rand(shape)
    out = ResizeShorterSide(16)(image)
    assert tuple(out.shape) == (shape[0], *expected)
    assert torch.allclose(out, Resize(list(expected), mode="bilinear", anti_aliasing=True)(image))


def test_dictionary_version_and_bad_size():
    data = ResizeShorterSided("image", 8)({"image": torch.rand(1, 10, 20), "label": 1})
    assert tuple(data["image"].shape) == (1, 8, 16) and data["label"] == 1
    with pytest.raises(ValueError, match="size must be a positive integer"):
        ResizeShorterSide(0)
