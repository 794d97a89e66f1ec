"""Nested regions equal the regions of the label map that is written, so metrics on them score the written map."""

from __future__ import annotations

import torch

from mamba_monai.data.transforms import (
    BratsNestedRegions,
    BratsNestedRegionsd,
    BratsRegionsToLabels,
    ConvertBratsLabels,
)


def test_nested_regions_are_the_written_label_maps_regions():
    g = torch.Generator().manual_seed(0)
    masks = (torch.rand(3, 6, 5, 4, generator=g) > 0.6).float()  # deliberately not nested
    nested = BratsNestedRegions()(masks)
    label = BratsRegionsToLabels("2021")(masks)
    regions_of_label = ConvertBratsLabels(coding="2021")(label)
    assert torch.equal(nested.bool(), torch.as_tensor(regions_of_label).bool())
    assert not torch.equal(nested, masks)  # the input was not nested: something changed
    assert torch.equal(BratsRegionsToLabels("2021")(nested), label)  # writing is unchanged


def test_nested_input_passes_unchanged():
    et = torch.zeros(4, 4, 4)
    et[1, 1, 1] = 1
    tc = et.clone()
    tc[2, 2, 2] = 1
    wt = tc.clone()
    wt[3, 3, 3] = 1
    masks = torch.stack([tc, wt, et])
    assert torch.equal(BratsNestedRegionsd(keys="pred")({"pred": masks})["pred"], masks)
