"""The segmentation trainer: only studies shaped as the bundle's input, only model.pt as the starting point, and a
served model.pt replaced only by a model that beats it on the run's validation studies (or a run from scratch goes to
its own folder)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("monailabel", reason="MONAI Label (the 'label' extra) lives in its own venv")

from mamba_monai.label.discovery import ServableBundle  # noqa: E402
from mamba_monai.label.studies import study_problem, usable_studies  # noqa: E402
from mamba_monai.label.train_task import BundleSegmentationTrainTask  # noqa: E402
from tests.label.tiny_bundles import make_studies, make_tiny_bundle  # noqa: E402


class Store:
    def __init__(self, items):
        self.items = items

    def datalist(self):
        return self.items


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("trainer")
    bundle = make_tiny_bundle("segmamba_brats", root / "bundles")
    make_studies(root / "studies", root / "scratch", labelled=2)
    labels = root / "studies" / "labels" / "final"
    items = [{"image": str(next(root.glob(f"studies/{p.stem.split('.')[0]}.*"))), "label": str(p)}
             for p in sorted(labels.iterdir())]  # fmt: skip
    task = BundleSegmentationTrainTask(ServableBundle("segmamba_brats", bundle, "segmentation"), {})
    return task, items, bundle


def test_a_3d_trainer_skips_2d_studies_naming_why(setup):
    task, items, _ = setup
    assert any(item["label"].endswith(".png") for item in items)
    usable = task._fetch_datalist({"model": "segmamba_brats"}, Store(items))
    assert len(usable) == 2 and all(item["image"].endswith(".nii.gz") for item in usable)
    png = next(item for item in items if item["label"].endswith(".png"))
    assert "is not a NIfTI volume" in study_problem(png["image"], png["label"], 3, 4)
    assert usable_studies(items, 2, 3, "x") == [png]  # and a 2D trainer would skip the volumes
    with pytest.raises(ValueError, match="needs at least 2 labelled studies it can read.*3 labelled, 1 of them"):
        task._fetch_datalist({"model": "segmamba_brats"}, Store([png] + items[:1] + [png]))


def test_only_model_pt_is_offered_and_accepted(setup):
    task, items, _ = setup
    assert task.config()["model_filename"] == ["model.pt"]
    with pytest.raises(ValueError, match="'supernet.pt' is not a servable model"):
        task({"model": "segmamba_brats", "model_filename": "supernet.pt"}, Store(items))


def test_the_served_model_is_the_score_to_beat_or_is_left_alone(setup):
    task, _, bundle = setup
    handlers = [{"_target_": "ValidationHandler"}]
    task._load_checkpoint(str(bundle / "models" / "model.pt"), True, handlers)
    assert handlers[0]["_target_"] == "CheckpointLoader"  # loaded before the validation at start scores it
    task._pretrained = True
    overrides = task._update_overrides({"train#trainer#max_epochs": 2})
    assert overrides["validate_at_start"] is True and "ckpt_dir" not in overrides
    task._pretrained = False
    overrides = task._update_overrides({"train#trainer#max_epochs": 2})
    assert "/models/label_runs/" in overrides["ckpt_dir"] and "validate_at_start" not in overrides
    train = json.loads((bundle / "configs" / "train.json").read_text())
    validation = next(h for h in train["train"]["handlers"] if h.get("_target_") == "ValidationHandler")
    assert "@validate_at_start" in validation["exec_at_start"]
