"""SegmentationOverlayWriter with a plain ignite engine: slice choice, file names, every_n, input errors."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine
from monai.data import MetaTensor
from PIL import Image

from mamba_monai.engines.handlers import SegmentationOverlayWriter


def volumes(label_slice=None, pred_slice=None, shape=(10, 12, 8)):
    image = MetaTensor(torch.rand(4, *shape), meta={"filename_or_obj": "/d/BraTS2021_00042_flair.nii.gz"})
    label = torch.zeros(3, *shape)
    pred = torch.zeros(3, *shape)
    if label_slice is not None:
        label[1, 2:8, 3:9, label_slice] = 1  # WT, on one axial slice only
        label[0, 3:6, 4:7, label_slice] = 1
    if pred_slice is not None:
        pred[1, 2:7, 3:9, pred_slice] = 1
    return {"image": image, "label": label, "pred": pred}


def run(tmp_path, items, epochs=1, **kwargs):
    """Run a plain engine whose output is the decollated list of ``items`` (as MONAI evaluators produce)."""
    writer = SegmentationOverlayWriter(tmp_path, **kwargs)
    engine = Engine(lambda e, batch: batch)
    writer.attach(engine)
    engine.run([items], max_epochs=epochs)
    return writer


@pytest.mark.parametrize("label_slice, pred_slice, expected", [(5, 2, 5), (None, 2, 2), (None, None, 4)])
def test_slice_with_most_foreground(tmp_path, label_slice, pred_slice, expected):
    writer = run(tmp_path, [volumes(label_slice, pred_slice), volumes(1, 1)])
    captured = writer._captured
    assert captured["slice"] == expected  # ground truth first, then prediction, then the middle slice
    assert captured["case"] == "BraTS2021_00042"
    assert captured["image"].shape == (10, 12) and captured["label"].shape == (3, 10, 12)
    path = tmp_path / "overlay_epoch0001.png"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] >= 600 and image.size[1] >= 300


def test_every_n_and_prefix(tmp_path):
    run(tmp_path, [volumes(5, 5)], epochs=4, every_n=2, prefix="val")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["val_epoch0002.png", "val_epoch0004.png"]


def test_other_slice_axis_and_region_names(tmp_path):
    items = [volumes(5, 5)]
    items[0]["label"] = items[0]["label"][:2]
    items[0]["pred"] = items[0]["pred"][:2]
    writer = run(tmp_path, items, slice_axis=0, region_names=("core", "whole"), region_colours=("blue", "orange"))
    assert writer._captured["image"].shape == (12, 8)
    assert writer._captured["slice"] in range(2, 8)


@pytest.mark.parametrize(
    "change, kwargs, match",
    [
        ({"pred": torch.zeros(3, 20, 20, 20)}, {}, "same space"),
        ({"label": torch.zeros(2, 10, 12, 8)}, {}, "regions"),
        ({}, {"image_channel": 4}, "out of range"),
        ({}, {"pred_key": "seg"}, "set image_key/label_key/pred_key"),
    ],
)
def test_input_errors(tmp_path, change, kwargs, match):
    items = [{**volumes(5, 5), **change}]
    with pytest.raises(ValueError, match=match):
        run(tmp_path, items, **kwargs)


def test_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="every_n"):
        SegmentationOverlayWriter(tmp_path, every_n=0)
    with pytest.raises(ValueError, match="slice_axis"):
        SegmentationOverlayWriter(tmp_path, slice_axis=3)
    with pytest.raises(ValueError, match="region_colours"):
        SegmentationOverlayWriter(tmp_path, region_colours=("red",))
