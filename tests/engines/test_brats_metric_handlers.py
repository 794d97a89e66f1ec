"""BratsMeanDice / BratsHD95 on a plain ignite engine: values, per-region metrics, details, options."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine
from ignite.exceptions import NotComputableError

from mamba_monai.engines.handlers import BratsHD95, BratsMeanDice
from mamba_monai.metrics.brats import BRATS_HD95_MAX


def cube(start, size=4, shape=(12, 12, 12)):
    mask = torch.zeros(shape)
    mask[start : start + size, 2:6, 2:6] = 1
    return mask


def items():
    """Two decollated cases: TC shifted by 1 voxel (Dice 0.75, HD95 1), WT perfect, ET predicted but absent."""
    empty = torch.zeros(12, 12, 12)
    first = {"pred": torch.stack([cube(2), cube(2), cube(2)]), "label": torch.stack([cube(3), cube(2), empty])}
    second = {"pred": torch.stack([cube(2), cube(2), empty]), "label": torch.stack([cube(2), cube(2), empty])}
    return [first, second]


def evaluate(**handlers):
    engine = Engine(lambda e, batch: batch)
    for name, handler in handlers.items():
        handler.attach(engine, name)
    engine.run([items()], max_epochs=1)
    return engine


def test_values_per_region_metrics_and_details():
    engine = evaluate(val_dice=BratsMeanDice(), val_hd95=BratsHD95(spacing=2.0))
    metrics = engine.state.metrics
    assert metrics["val_dice_TC"] == pytest.approx((0.75 + 1.0) / 2)
    assert metrics["val_dice_WT"] == 1.0
    assert metrics["val_dice_ET"] == pytest.approx(0.5)
    assert metrics["val_dice"] == pytest.approx((0.875 + 1.0 + 0.5) / 3)
    assert isinstance(metrics["val_dice"], float)
    assert metrics["val_hd95_TC"] == pytest.approx(1.0)  # 2 mm shift in one case, 0 in the other
    assert metrics["val_hd95_ET"] == pytest.approx(BRATS_HD95_MAX / 2)
    assert engine.state.metric_details["val_hd95"].shape == (2, 3)
    assert engine.state.metric_details["val_dice"][:, 2].tolist() == [0.0, 1.0]


def test_options_per_region_and_save_details():
    engine = evaluate(dice=BratsMeanDice(per_region=False, save_details=False, region_names=("a", "b", "c")))
    assert set(engine.state.metrics) == {"dice"}
    assert getattr(engine.state, "metric_details", {}) == {}


def test_not_computable_without_cases():
    handler = BratsMeanDice()
    handler.attach(Engine(lambda e, b: None), "dice")
    with pytest.raises(NotComputableError, match="no cases"):
        handler.compute()
