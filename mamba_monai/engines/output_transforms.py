"""Engine output transforms that bundle configs would otherwise spell as long lambdas."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

__all__ = ["accuracy_output_transform"]


def accuracy_output_transform(pred_key: str = "pred", label_key: str = "label") -> Callable:
    """The ``output_transform`` of an Ignite ``Accuracy`` on a MONAI engine whose decollated items hold a one-hot
    (or probability) prediction and a one-hot label: returns ``(stacked predictions, label class indices)``.

    Example (bundle config)::

        "accuracy_transform": "$mamba_monai.engines.accuracy_output_transform('prob')"

    Args:
        pred_key: the item key of the prediction, one score per class.
        label_key: the item key of the one-hot label.
    """

    def transform(output: Sequence[dict[str, Any]]) -> tuple[torch.Tensor, torch.Tensor]:
        predictions = torch.stack([torch.as_tensor(item[pred_key]) for item in output])
        labels = torch.stack([torch.as_tensor(item[label_key]) for item in output])
        return predictions, labels.argmax(dim=1)

    return transform
