"""Load ImageNet weights of SE-ResNeXt / SE-ResNet from a LOCAL file onto MONAI's ``SENet`` family.

MONAI's ``SEResNext50(pretrained=True)`` downloads Cadene's ``pretrainedmodels`` checkpoint at construction time;
a bundle must not download anything while it runs. This loader reads a file the user put on disk (as safely as
``mamba-monai convert``: :func:`~mamba_monai.convert.checkpoint_io.load_checkpoint_file`), unwraps it
(``{"state_dict": ...}``, ``{"model": ...}``, ``module.`` prefixes...) and translates its keys to MONAI's names
(:func:`~mamba_monai.convert.renames.seresnext.convert_seresnext_state_dict`: timm, torchvision, pretrainedmodels or
MONAI naming). The classifier head is skipped by default (the class count differs from ImageNet's 1000).

Note: the stem max-pooling of MONAI's ``SENet`` follows ``pretrainedmodels`` (``ceil_mode=True``, no padding);
timm's ResNet pads by 1 instead. The weights fit both; features of timm weights differ slightly at the borders of the
first pooling, which fine-tuning absorbs (or see :func:`~mamba_monai.convert.use_timm_stem_pool`).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from mamba_monai.convert.checkpoint_io import load_checkpoint_file, unwrap_state_dict
from mamba_monai.convert.renames.seresnext import convert_seresnext_state_dict
from mamba_monai.utils.wrapped_modules import unwrap_network

__all__ = ["load_seresnext_pretrained"]

_WHERE_TO_GET = (
    "Put a SE-ResNeXt-50 (32x4d) ImageNet state dict there (or set pretrained_path to null for random "
    "initialisation). Where to get one, on a machine with internet access:\n"
    "  - timm (Apache-2.0, Hugging Face hub 'timm/seresnext50_32x4d.racm_in1k'):\n"
    "      python -c \"import timm, torch; torch.save(timm.create_model('seresnext50_32x4d', pretrained=True)"
    ".state_dict(), 'seresnext50_32x4d.pth')\"\n"
    "  - Cadene's pretrainedmodels (the weights MONAI's SEResNext50(pretrained=True) downloads):\n"
    "      http://data.lip6.fr/cadene/pretrainedmodels/se_resnext50_32x4d-a260b3a4.pth\n"
    "then copy the file to that path."
)


def load_seresnext_pretrained(
    network: nn.Module,
    path: str | os.PathLike | None,
    skip_head: bool = True,
    map_location: str | torch.device = "cpu",
) -> nn.Module:
    """Load ImageNet (or other) weights from a local file onto a MONAI ``SEResNext50`` (or another ``SENet``), in
    place; nothing is downloaded. The classifier head keeps its initialisation unless ``skip_head=False``.

    Example (bundle config; the network is left alone when ``pretrained_path`` is null)::

        "network_def": {"_target_": "monai.networks.nets.SEResNext50", "spatial_dims": 2, "in_channels": 3,
                        "num_classes": 6},
        "network": "$mamba_monai.convert.load_seresnext_pretrained(@network_def, @pretrained_path).to(@device)"

    Args:
        network: the network to fill (``DataParallel`` / ``DistributedDataParallel`` are looked through).
        path: the weights file (``torch.save`` of a state dict in one of the layouts of
            :mod:`mamba_monai.convert.renames.seresnext`, possibly wrapped, see :func:`unwrap_state_dict`); ``None``
            returns ``network`` unchanged (random initialisation).
        skip_head: do not load the classifier head (a different class count).
        map_location: where to load the tensors before copying them.

    Returns:
        ``network`` itself.

    Raises:
        FileNotFoundError: ``path`` does not exist; the message says where to put a file and where to get one.
        ValueError: the file is not a state dict, or does not fit the network (see
            :func:`convert_seresnext_state_dict`).
    """
    if path is None:
        return network
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"pretrained weights file '{path.absolute()}' (config key pretrained_path) does not exist. {_WHERE_TO_GET}"
        )
    source = f"pretrained weights file '{path}'"
    state = unwrap_state_dict(load_checkpoint_file(path), source)
    state = {key: value.to(map_location) for key, value in state.items() if isinstance(value, torch.Tensor)}
    target = unwrap_network(network)
    converted, _ = convert_seresnext_state_dict(state, target, skip_head=skip_head, source=f"weights file '{path}'")
    target.load_state_dict(converted, strict=not skip_head)
    return network
