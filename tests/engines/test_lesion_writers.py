"""LesionMaskWriter and LesionOverlayWriter with a plain ignite engine: sizes, names, values, input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from monai.data import MetaTensor
from PIL import Image

from mamba_monai.engines.handlers.lesion_mask_writer import LesionMaskWriter
from mamba_monai.engines.handlers.lesion_overlay_writer import LesionOverlayWriter, lesion_overlay


def item(name="/d/ISIC_0000007.jpg", original=(50, 90), size=(32, 32), box=(8, 24, 4, 16)):
    pixels = torch.rand(3, *size, generator=torch.Generator().manual_seed(0))  # seeded: the colour checks are exact
    image = MetaTensor(pixels, meta={"filename_or_obj": name, "spatial_shape": np.array(original)})
    prob = torch.zeros(1, *size)
    top, bottom, left, right = box
    prob[0, top:bottom, left:right] = 0.9
    label = (prob > 0.5).float()
    return {"image": image, "label": label, "pred": label.clone(), "prob": prob}


def run(handler, items):
    engine = Engine(lambda e, batch: batch)
    handler.attach(engine)
    engine.run([items], max_epochs=1)
    return handler


def test_mask_is_written_at_the_original_size_with_the_image_name(tmp_path):
    writer = run(LesionMaskWriter(tmp_path), [item(), item("/d/other/b.png", original=(32, 32))])
    assert [p.name for p in writer.written] == ["ISIC_0000007_mask.png", "b_mask.png"]
    mask = np.asarray(Image.open(tmp_path / "ISIC_0000007_mask.png"))
    assert mask.shape == (50, 90) and mask.dtype == np.uint8
    assert set(np.unique(mask).tolist()) == {0, 255}
    # the box (rows 8-24 of 32, columns 4-16 of 32) scales to rows 12.5-37.5 of 50, columns 11.25-45 of 90
    rows, cols = np.nonzero(mask)
    assert abs(rows.min() - 12.5) <= 1.5 and abs(rows.max() + 1 - 37.5) <= 1.5
    assert abs(cols.min() - 11.25) <= 1.5 and abs(cols.max() + 1 - 45) <= 1.5
    same = np.asarray(Image.open(tmp_path / "b_mask.png"))
    assert same.shape == (32, 32) and (same[8:24, 4:16] == 255).all() and same.sum() == 255 * 16 * 12


def test_mask_threshold_and_no_resize(tmp_path):
    data = item()
    data["prob"][0, 0, 0] = 0.3
    run(LesionMaskWriter(tmp_path, threshold=0.2, resize_to_original=False, postfix="_seg"), [data])
    mask = np.asarray(Image.open(tmp_path / "ISIC_0000007_seg.png"))
    assert mask.shape == (32, 32) and mask[0, 0] == 255


def test_mask_writer_refuses_two_inputs_with_one_name(tmp_path):
    with pytest.raises(ValueError, match=r"'/a/x.png' and '/b/x.jpg' would both be written"):
        run(LesionMaskWriter(tmp_path), [item("/b/x.jpg"), item("/a/x.png")])


def test_mask_writer_rejects_multichannel_maps(tmp_path):
    data = item()
    data["prob"] = torch.zeros(2, 32, 32)
    with pytest.raises(ValueError, match="ISIC_0000007.*1 channel"):
        run(LesionMaskWriter(tmp_path), [data])


def test_overlay_per_image_with_colours(tmp_path):
    items = [item(), item("/d/ISIC_0000008.jpg"), item("/d/ISIC_0000009.jpg")]
    items[1]["pred"] = torch.zeros(1, 32, 32)
    run(LesionOverlayWriter(tmp_path, max_images=2, zoom=2), items)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["ISIC_0000007_overlay.png", "ISIC_0000008_overlay.png"]
    picture = np.asarray(Image.open(tmp_path / "ISIC_0000008_overlay.png"))
    assert picture.shape == (64, 64, 3)
    green = (picture[..., 1] == 220) & (picture[..., 0] == 0)
    red = (picture[..., 0] == 255) & (picture[..., 1] == 40)
    assert green.sum() > 0 and red.sum() == 0  # truth outlined, empty prediction not drawn
    both = np.asarray(Image.open(tmp_path / "ISIC_0000007_overlay.png"))
    assert ((both[..., 1] == 220) & (both[..., 0] == 0)).sum() > 0  # truth outline drawn over the prediction's


def test_overlay_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="pred has shape"):
        lesion_overlay(torch.rand(3, 16, 16), None, torch.zeros(1, 8, 8))
