"""The default fitness of :class:`~mamba_monai.engines.EvolutionarySearch`: pooled IoU and Dice of a trained
supernet's path on a search split."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch
from monai.metrics import compute_confusion_matrix_metric, get_confusion_matrix
from torch import nn

from mamba_monai.networks.blocks.genotype import Genotype
from mamba_monai.utils.wrapped_modules import unwrap_network

__all__ = ["SupernetScorer"]


class SupernetScorer:
    """Default fitness of a path: pooled IoU and Dice of the supernet running that genotype on a search split.

    TP, FP and FN are summed over every pixel of the split (as the original's confusion matrix over the whole
    split; MONAI's ``get_confusion_matrix``), then ``IoU = TP / (TP + FP + FN)`` (MONAI's "threat score") and
    ``Dice = 2 TP / (2 TP + FP + FN)`` ("f1 score"); an empty prediction of an empty split scores 1. The supernet runs in eval mode without gradients (its mode and genotype are restored).

    Args:
        supernet: a :class:`~mamba_monai.networks.nets.SliceMambaSupernet` (optionally DDP-wrapped) with trained
            weights.
        data: the search split with deterministic transforms: an iterable (re-iterable, e.g. a ``DataLoader``) of
            ``(image, mask)`` batches or of dicts with ``image_key`` and ``label_key``; images (B, C, H, W), masks
            (B, 1, H, W) or (B, H, W) with foreground > 0.5.
        threshold: probability above which a pixel is lesion (single-channel logits go through a sigmoid;
            multi-channel outputs are arg-maxed, channel 1 being lesion).
        device: where to run; default: the supernet's device.
        image_key: image key of dict batches.
        label_key: mask key of dict batches.
    """

    names: tuple[str, str] = ("iou", "dice")

    def __init__(
        self,
        supernet: nn.Module,
        data: Iterable,
        threshold: float = 0.5,
        device: str | torch.device | None = None,
        image_key: str = "image",
        label_key: str = "label",
    ) -> None:
        self.supernet = supernet
        self.data = data
        self.threshold = float(threshold)
        self.device = device
        self.image_key, self.label_key = image_key, label_key
        self._image_size: tuple[int, int] | None = None

    def _pair(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(batch, Mapping):
            return batch[self.image_key], batch[self.label_key]
        if isinstance(batch, Sequence) and len(batch) == 2:
            return batch[0], batch[1]
        raise ValueError(
            f"SupernetScorer: a search batch must be (image, mask) or a dict with '{self.image_key}' and "
            f"'{self.label_key}', got {type(batch).__name__}"
        )

    def image_size(self) -> tuple[int, int]:
        """(H, W) of the search images (read from the first batch, then remembered)."""
        if self._image_size is None:
            for batch in self.data:
                image, _ = self._pair(batch)
                self._image_size = (int(image.shape[-2]), int(image.shape[-1]))
                break
            else:
                raise ValueError("SupernetScorer: the search data are empty")
        return self._image_size

    @torch.no_grad()
    def __call__(self, genotype: Genotype) -> tuple[float, float]:
        network = unwrap_network(self.supernet)
        device = self.device if self.device is not None else next(network.parameters()).device
        was_training, previous = network.training, network.genotype
        network.eval()
        network.genotype = genotype
        counts = torch.zeros(4, dtype=torch.float64)  # TP, FP, TN, FN summed over the split
        try:
            for batch in self.data:
                image, mask = self._pair(batch)
                output = network(torch.as_tensor(image).to(device))
                if output.shape[1] == 1:
                    predicted = torch.sigmoid(output[:, 0]) > self.threshold
                else:
                    predicted = output.argmax(dim=1) == 1
                mask = torch.as_tensor(mask).to(device)
                truth = (mask[:, 0] if mask.dim() == 4 else mask) > 0.5
                if truth.shape != predicted.shape:
                    raise ValueError(
                        f"SupernetScorer: mask shape {tuple(mask.shape)} does not match the output "
                        f"{tuple(output.shape)}"
                    )
                pair = (predicted[:, None].double(), truth[:, None].double())  # (B, 1, H, W): one foreground class
                counts += get_confusion_matrix(*pair, include_background=True).sum(dim=(0, 1)).cpu()
        finally:
            network.genotype = previous
            network.train(was_training)
        tp, fp, _, fn = counts.tolist()
        if tp + fp + fn == 0:
            return (1.0, 1.0)
        return tuple(float(compute_confusion_matrix_metric(name, counts)) for name in ("threat score", "f1 score"))
