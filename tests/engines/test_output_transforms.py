"""The accuracy output transform turns decollated one-hot items into (scores, class indices) for Ignite."""

from __future__ import annotations

import torch
from ignite.metrics import Accuracy

from mamba_monai.engines import accuracy_output_transform


def test_accuracy_output_transform_reads_the_named_key():
    items = [
        {"prob": torch.tensor([0.9, 0.1]), "pred": torch.tensor([0.0, 1.0]), "label": torch.tensor([1.0, 0.0])},
        {"prob": torch.tensor([0.2, 0.8]), "pred": torch.tensor([1.0, 0.0]), "label": torch.tensor([0.0, 1.0])},
    ]
    scores, labels = accuracy_output_transform("prob")(items)
    assert torch.equal(scores, torch.tensor([[0.9, 0.1], [0.2, 0.8]])) and torch.equal(labels, torch.tensor([0, 1]))
    metric = Accuracy()
    metric.update(accuracy_output_transform("prob")(items))
    assert metric.compute() == 1.0
    metric.reset()
    metric.update(accuracy_output_transform("pred")(items))
    assert metric.compute() == 0.0
