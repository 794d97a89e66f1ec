"""SupernetScorer: pooled IoU / Dice over the whole split, the supernet's genotype and mode restored."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mamba_monai.engines.supernet_scorer import SupernetScorer
from mamba_monai.networks.blocks.genotype import Genotype


class FixedLogits(nn.Module):
    """Stands in for a supernet: returns the logits stored for each batch, in order; records the genotype used."""

    def __init__(self, logits):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.logits, self.calls, self.seen = logits, 0, []
        self.genotype = "before"

    def forward(self, x):
        self.seen.append((self.genotype, self.training))
        out = self.logits[self.calls % len(self.logits)]
        self.calls += 1
        return out


def test_iou_and_dice_are_pooled_over_the_split_and_the_network_is_restored():
    torch.manual_seed(0)
    logits = [torch.randn(2, 1, 6, 5), torch.randn(3, 1, 6, 5)]
    masks = [torch.rand(2, 1, 6, 5) > 0.6, torch.rand(3, 6, 5) > 0.3]  # (B, 1, H, W) and (B, H, W) masks
    data = [{"image": torch.zeros(2, 1, 6, 5), "label": masks[0]}, (torch.zeros(3, 1, 6, 5), masks[1])]
    network = FixedLogits(logits).train()
    genotype = Genotype((0,) * 22)
    iou, dice = SupernetScorer(network, data)(genotype)
    predicted = torch.cat([(torch.sigmoid(lg[:, 0]) > 0.5).flatten() for lg in logits])
    truth = torch.cat([masks[0][:, 0].flatten(), masks[1].flatten()])
    tp = float((predicted & truth).sum())
    fp, fn = float((predicted & ~truth).sum()), float((~predicted & truth).sum())
    assert tp > 0 and fp > 0 and fn > 0
    assert iou == pytest.approx(tp / (tp + fp + fn), abs=1e-12)
    assert dice == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=1e-12)
    assert network.seen == [(genotype, False)] * 2  # the genotype, in eval mode ...
    assert network.genotype == "before" and network.training  # ... then both restored


def test_empty_prediction_of_an_empty_split_scores_one_and_shape_mismatch_is_named():
    data = [(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))]
    assert SupernetScorer(FixedLogits([torch.full((1, 1, 4, 4), -5.0)]), data)(Genotype((0,) * 22)) == (1.0, 1.0)
    with pytest.raises(ValueError, match="mask shape"):
        SupernetScorer(FixedLogits([torch.zeros(1, 1, 4, 4)]), [(torch.zeros(1, 1, 4, 4), torch.zeros(1, 8))])(
            Genotype((0,) * 22)
        )
