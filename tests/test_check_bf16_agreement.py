"""scripts/check_bf16_agreement.py: the comparisons it draws between a bf16 and a float32 evaluation of one model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import check_bf16_agreement as check  # noqa: E402


def write_masks(folder: Path, masks: dict[str, np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, mask in masks.items():
        Image.fromarray(mask.astype(np.uint8) * 255).save(folder / f"{name}_mask.png")


def lesion(shift: int = 0) -> np.ndarray:
    mask = np.zeros((64, 64), dtype=bool)
    mask[10 + shift : 40 + shift, 12:44] = True
    return mask


def test_equal_lesion_masks_pass_and_a_moved_one_fails(tmp_path):
    pattern, regions, _ = check.SEGMENTATION["slicemamba_lesion"]
    write_masks(tmp_path / "pred_True", {"a": lesion(), "b": lesion()})
    write_masks(tmp_path / "pred_False", {"a": lesion(), "b": lesion()})
    assert check.compare_written_maps(tmp_path, pattern, regions) == []

    write_masks(tmp_path / "pred_False", {"b": lesion(shift=3)})  # Dice 0.9 against the bf16 mask
    failures = check.compare_written_maps(tmp_path, pattern, regions)
    assert len(failures) == 1 and failures[0].startswith("b_mask.png lesion Dice 0.9")


def test_a_prediction_missing_from_one_run_is_a_failure(tmp_path):
    pattern, regions, _ = check.SEGMENTATION["slicemamba_lesion"]
    write_masks(tmp_path / "pred_True", {"a": lesion()})
    (tmp_path / "pred_False").mkdir()
    assert "wrote no prediction for a_mask.png" in check.compare_written_maps(tmp_path, pattern, regions)[0]
    assert "no predictions" in check.compare_written_maps(tmp_path / "nothing", pattern, regions)[0]


def write_summary(folder: Path, **means) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics_summary.json").write_text(json.dumps({"means": means, "metrics": {"hd95": 3.0}}))


@pytest.mark.parametrize(("fp32_dice", "failed"), [(0.801, False), (0.81, True)])
def test_metric_shift_over_the_limit_fails(tmp_path, fp32_dice, failed):
    write_summary(tmp_path / "eval_True", dice=0.8, isic_jaccard=0.7)
    write_summary(tmp_path / "eval_False", dice=fp32_dice, isic_jaccard=0.7)
    failures = check.compare_metric_summaries(tmp_path, ("dice", "jaccard"))
    assert bool(failures) is failed and all("dice" in f for f in failures)


def test_a_summary_without_the_compared_metrics_is_a_failure(tmp_path):
    write_summary(tmp_path / "eval_True", accuracy=0.9)
    write_summary(tmp_path / "eval_False", accuracy=0.9)
    assert "no metric named like" in check.compare_metric_summaries(tmp_path, ("dice",))[0]
