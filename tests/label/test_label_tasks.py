"""The app's task helpers: classification results, class names, BraTS label names (needs monailabel)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip(
    "monailabel",
    reason="MONAI Label (the 'label' extra) is not installed here; it pins numpy < 2 and lives in its own venv",
)

from monai.bundle import ConfigParser  # noqa: E402

from mamba_monai.label.classification_task import classification_result, resolve_class_names  # noqa: E402
from mamba_monai.label.segmentation_task import segmentation_label_names  # noqa: E402

REPO_BUNDLES = Path(__file__).resolve().parents[2] / "bundles"


def test_classification_result():
    result = classification_result(torch.tensor([[0.1, 0.7, 0.2]]), ["a", "b", "c"])
    assert result["label"] == "b" and result["label_index"] == 1
    assert result["probabilities"] == pytest.approx({"a": 0.1, "b": 0.7, "c": 0.2})
    assert [p["label"] for p in result["prediction"]] == ["a", "b", "c"]
    json.dumps(result)  # the REST answer
    with pytest.raises(ValueError, match="3 values for 2 classes"):
        classification_result(torch.tensor([0.1, 0.7, 0.2]), ["a", "b"])


def test_class_names_fall_back_to_metadata_when_the_training_datalist_is_absent(tmp_path):
    bundle = REPO_BUNDLES / "medmambase_ultrasound"
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser["bundle_root"] = str(tmp_path)  # no demo_data/datalist.json there
    metadata = json.loads((bundle / "configs" / "metadata.json").read_text())
    names = resolve_class_names(parser, metadata, "medmambase_ultrasound")
    channel_def = metadata["network_data_format"]["outputs"]["pred"]["channel_def"]
    assert names == [channel_def[str(i)] for i in range(len(channel_def))]

    parser["class_names"] = "$sorted(['y', 'x'])"  # an expression that builds: used as is
    assert resolve_class_names(parser, metadata, "medmambase_ultrasound") == ["x", "y"]


@pytest.mark.parametrize("coding, et", [("2021", 4), ("2023", 3)])
def test_brats_label_names_follow_the_coding(coding, et):
    parser = ConfigParser()
    parser.read_config(str(REPO_BUNDLES / "segmamba_brats" / "configs" / "inference.json"))
    parser["brats_coding"] = coding
    expected = {"necrotic tumour core": 1, "peritumoral oedema": 2, "enhancing tumour": et}
    assert segmentation_label_names(parser) == expected
    assert segmentation_label_names(ConfigParser({"network_def": {}})) is None
