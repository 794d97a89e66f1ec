"""BratsRegionMetric / brats_dice_hd95: BraTS empty-mask rules, hand-checked Dice and HD95, spacing, accumulation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.metrics import compute_hausdorff_distance

from mamba_monai.metrics.brats import BRATS_HD95_MAX, BratsRegionMetric, brats_dice_hd95

SHAPE = (12, 12, 12)


def box(start, size, shape=SHAPE):
    """A (H, W, D) 0/1 float mask with a box of ``size`` at ``start``."""
    mask = torch.zeros(shape)
    mask[tuple(slice(s, s + n) for s, n in zip(start, size))] = 1
    return mask


def case(*regions):
    """(3, H, W, D) from three masks (None = empty)."""
    return torch.stack([torch.zeros(SHAPE) if r is None else r for r in regions])


def test_hd95_max_is_the_brats_value():
    assert BRATS_HD95_MAX == pytest.approx(373.13, abs=0.005)


def test_both_empty_gives_dice_one_and_hd95_zero():
    empty = torch.zeros(1, 3, *SHAPE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NaN/empty-mask warnings from MONAI either
        dice, hd95 = BratsRegionMetric()(y_pred=empty, y=empty)
    assert dice.tolist() == [[1.0, 1.0, 1.0]]
    assert hd95.tolist() == [[0.0, 0.0, 0.0]]


@pytest.mark.parametrize("empty_side", ["pred", "label"])
def test_exactly_one_empty_gives_dice_zero_and_hd95_max(empty_side):
    cube = box((2, 2, 2), (4, 4, 4))
    full = case(cube, cube, cube)[None]
    empty = torch.zeros_like(full)
    pred, label = (empty, full) if empty_side == "pred" else (full, empty)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dice, hd95 = BratsRegionMetric()(y_pred=pred, y=label)
    assert dice.tolist() == [[0.0, 0.0, 0.0]]
    assert torch.allclose(hd95, torch.full((1, 3), BRATS_HD95_MAX))
    assert BratsRegionMetric(hd95_max=100.0)(y_pred=pred, y=label)[1].tolist() == [[100.0, 100.0, 100.0]]


def test_dice_of_two_overlapping_cubes():
    # 4^3 cubes shifted by one voxel along x: overlap 3*4*4 = 48, Dice = 2*48 / (64 + 64) = 0.75
    # 4^3 cube inside a 4x4x8 box: overlap 64, Dice = 2*64 / (64 + 128) = 2/3
    pred = case(box((2, 2, 2), (4, 4, 4)), box((2, 2, 2), (4, 4, 4)), None)[None]
    label = case(box((3, 2, 2), (4, 4, 4)), box((2, 2, 2), (4, 4, 8)), None)[None]
    dice, _ = BratsRegionMetric()(y_pred=pred, y=label)
    assert dice[0].tolist() == pytest.approx([0.75, 2 / 3, 1.0])


def test_hd95_of_a_shifted_cube_and_spacing():
    pred = case(box((2, 2, 2), (4, 4, 4)), None, None)[None]
    label = case(box((4, 2, 2), (4, 4, 4)), None, None)[None]  # shifted by 2 voxels along x
    hd_unit = BratsRegionMetric(spacing=None)(y_pred=pred, y=label)[1][0, 0].item()
    assert hd_unit == pytest.approx(2.0)
    hd_iso = BratsRegionMetric(spacing=2.0)(y_pred=pred, y=label)[1][0, 0].item()
    assert hd_iso == pytest.approx(2 * hd_unit)
    # only the spacing of the axis of the shift matters here
    hd_x = BratsRegionMetric(spacing=(3.0, 1.0, 1.0))(y_pred=pred, y=label)[1][0, 0].item()
    assert hd_x == pytest.approx(3 * hd_unit)


def test_spacing_from_label_meta_per_call_and_precedence():
    pred = case(box((2, 2, 2), (5, 4, 3)), None, None)[None]
    label_plain = case(box((3, 1, 2), (6, 4, 5)), None, None)[None]
    label = MetaTensor(label_plain, affine=torch.diag(torch.tensor([2.0, 2.0, 2.0, 1.0])))
    unit = BratsRegionMetric()(y_pred=pred, y=label_plain)[1][0, 0].item()
    assert unit > 0
    # spacing read from the label's affine
    assert BratsRegionMetric()(y_pred=pred, y=label)[1][0, 0].item() == pytest.approx(2 * unit)
    # the constructor's spacing beats the affine, the call's beats both
    assert BratsRegionMetric(spacing=1.0)(y_pred=pred, y=label)[1][0, 0].item() == pytest.approx(unit)
    assert BratsRegionMetric(spacing=1.0)(y_pred=pred, y=label, spacing=3.0)[1][0, 0].item() == pytest.approx(3 * unit)


def test_per_case_affines_of_a_batch():
    pred = torch.stack([case(box((2, 2, 2), (4, 4, 4)), None, None)] * 2)
    label = torch.stack([case(box((4, 2, 2), (4, 4, 4)), None, None)] * 2)
    affines = torch.stack([torch.diag(torch.tensor([s, s, s, 1.0])) for s in (1.0, 1.5)])
    label = MetaTensor(label, affine=affines)
    label.is_batch = True
    hd95 = BratsRegionMetric()(y_pred=pred, y=label)[1][:, 0]
    assert hd95.tolist() == pytest.approx([2.0, 3.0])


@pytest.mark.filterwarnings("ignore:.*always_return_as_numpy")  # MONAI 1.6 warns about its own internals
def test_regular_regions_match_monai_when_other_regions_are_empty():
    tc_pred, tc_label = box((1, 1, 1), (5, 4, 3)), box((2, 3, 1), (3, 5, 6))
    et_pred, et_label = box((6, 6, 6), (4, 2, 3)), box((5, 5, 7), (4, 4, 2))
    pred = case(tc_pred, None, et_pred)[None]
    label = case(tc_label, None, et_label)[None]
    dice, hd95 = BratsRegionMetric(spacing=(1.0, 1.5, 2.0))(y_pred=pred, y=label)
    for channel, (p, y) in {0: (tc_pred, tc_label), 2: (et_pred, et_label)}.items():
        expected = compute_hausdorff_distance(
            p[None, None], y[None, None], include_background=True, percentile=95, spacing=[[1.0, 1.5, 2.0]]
        )
        assert hd95[0, channel].item() == pytest.approx(expected.item())
        expected_dice = 2 * (p * y).sum() / (p.sum() + y.sum())
        assert dice[0, channel].item() == pytest.approx(expected_dice.item())
    assert dice[0, 1].item() == 1.0 and hd95[0, 1].item() == 0.0


def test_accumulation_details_aggregate_and_reset():
    metric = BratsRegionMetric()
    cube = box((2, 2, 2), (4, 4, 4))
    shifted = box((3, 2, 2), (4, 4, 4))
    # call 1: a batch-first pair of 2 cases; call 2: a list of one channel-first case
    metric(
        y_pred=torch.stack([case(cube, cube, None), case(cube, None, None)]),
        y=torch.stack([case(shifted, cube, None), case(cube, None, cube)]),
    )
    metric(y_pred=[case(cube, cube, cube)], y=[case(cube, cube, cube)])
    details = metric.get_details()
    assert set(details) == {"dice", "hd95"}
    assert details["dice"].shape == (3, 3) and details["hd95"].shape == (3, 3)
    assert torch.allclose(details["dice"], torch.tensor([[0.75, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]))
    means = metric.aggregate()
    assert list(means) == [f"{q}_{r}" for q in ("dice", "hd95") for r in ("TC", "WT", "ET", "mean")]
    for quantity in ("dice", "hd95"):
        region_means = details[quantity].double().mean(dim=0)
        for region, value in zip(("TC", "WT", "ET"), region_means.tolist()):
            assert means[f"{quantity}_{region}"] == pytest.approx(value)
        assert means[f"{quantity}_mean"] == pytest.approx(region_means.mean().item())
    assert means["hd95_ET"] == pytest.approx(BRATS_HD95_MAX / 3)
    metric.reset()
    with pytest.raises(RuntimeError, match="no cases"):
        metric.aggregate()


def test_quantities_and_region_names():
    pred = torch.stack([box((2, 2, 2), (4, 4, 4)), torch.zeros(SHAPE)])[None]
    metric = BratsRegionMetric(region_names=("tumour", "oedema"), quantities=("hd95",))
    metric(y_pred=pred, y=pred)
    assert set(metric.get_details()) == {"hd95"}
    assert metric.aggregate() == {"hd95_tumour": 0.0, "hd95_oedema": 0.0, "hd95_mean": 0.0}


def test_two_dimensional_masks():
    pred = torch.zeros(1, 3, 10, 10)
    label = torch.zeros(1, 3, 10, 10)
    pred[0, 0, 2:6, 2:6] = 1
    label[0, 0, 2:6, 4:8] = 1  # overlap 4*2 = 8 of 16 + 16: Dice 0.5, shift of 2
    dice, hd95 = BratsRegionMetric(spacing=(1.0, 0.5))(y_pred=pred, y=label)
    assert dice[0].tolist() == [0.5, 1.0, 1.0]
    assert hd95[0, 0].item() == pytest.approx(1.0)


def test_brats_dice_hd95_on_numpy():
    pred = case(box((2, 2, 2), (4, 4, 4)), box((2, 2, 2), (4, 4, 4)), None).numpy()
    label = case(box((3, 2, 2), (4, 4, 4)), None, None).numpy()
    scores = brats_dice_hd95(pred, label, spacing=2.0)
    assert scores["dice_TC"] == pytest.approx(0.75)
    assert scores["dice_WT"] == 0.0 and scores["dice_ET"] == 1.0
    assert scores["hd95_TC"] == pytest.approx(2.0)
    assert scores["hd95_WT"] == pytest.approx(BRATS_HD95_MAX)
    assert scores["hd95_ET"] == 0.0
    assert scores["dice_mean"] == pytest.approx((0.75 + 0 + 1) / 3)
    assert scores["hd95_mean"] == pytest.approx((2.0 + BRATS_HD95_MAX) / 3)
    assert all(isinstance(v, float) and math.isfinite(v) for v in scores.values())


def test_brats_dice_hd95_reads_spacing_from_meta():
    pred = case(box((2, 2, 2), (4, 4, 4)), None, None)
    label = MetaTensor(case(box((3, 2, 2), (4, 4, 4)), None, None), affine=np.diag([1.5, 1.0, 1.0, 1.0]))
    assert brats_dice_hd95(pred, label)["hd95_TC"] == pytest.approx(1.5)


@pytest.mark.parametrize(
    "pred, label, match",
    [
        (torch.full((1, 3, 4, 4, 4), 0.7), torch.zeros(1, 3, 4, 4, 4), "binarised"),
        (torch.zeros(1, 2, 4, 4, 4), torch.zeros(1, 2, 4, 4, 4), "2 channels but there are 3 regions"),
        (torch.zeros(1, 3, 4, 4, 4), torch.zeros(1, 3, 4, 4, 5), "same shape"),
        (torch.zeros(3, 4, 4), torch.zeros(3, 4, 4), "batch-first"),
    ],
)
def test_bad_inputs(pred, label, match):
    with pytest.raises(ValueError, match=match):
        BratsRegionMetric()(y_pred=pred, y=label)


def test_bad_arguments():
    with pytest.raises(ValueError, match="quantities"):
        BratsRegionMetric(quantities=("iou",))
    with pytest.raises(ValueError, match="unique"):
        BratsRegionMetric(region_names=("TC", "TC", "ET"))
    with pytest.raises(ValueError, match="hd95_max"):
        BratsRegionMetric(hd95_max=float("inf"))
    pred = case(box((2, 2, 2), (4, 4, 4)), None, None)[None]
    with pytest.raises(ValueError, match="spacing must be a number, 3 numbers"):
        BratsRegionMetric(spacing=(1.0, 2.0))(y_pred=pred, y=pred)
    with pytest.raises(ValueError, match="positive"):
        BratsRegionMetric(spacing=-1.0)(y_pred=pred, y=pred)
    with pytest.raises(ValueError, match="one channel-first case"):
        brats_dice_hd95(pred, pred)
