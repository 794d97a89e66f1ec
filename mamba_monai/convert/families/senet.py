"""SE-ResNeXt checkpoints (pretrainedmodels, timm, torchvision or MONAI naming) for MONAI's ``SENet``."""

from __future__ import annotations

from typing import Any

import torch
from monai.networks.nets.senet import SENet, SEResNeXtBottleneck
from torch import nn

from mamba_monai.convert.families.family import Family, StateDict, any_key, bundle_note, first_shape, stage_depths
from mamba_monai.convert.renames.seresnext import convert_seresnext_state_dict

__all__ = ["SENET"]


_HEADS = ("last_linear.weight", "fc.weight", "head.fc.weight")
_SE_FC1 = ("layer1.0.se_layer.fc.0.weight", "layer1.0.se_module.fc1.weight", "layer1.0.se.fc1.weight")


def _senet_infer(state: StateDict) -> dict[str, Any]:
    """Works on MONAI's, pretrainedmodels', timm's and torchvision's names alike."""
    stem = first_shape(state, ("layer0.conv1.conv.weight", "layer0.conv1.weight", "conv1.weight"), "senet")
    if stem[2:] != (7, 7):
        raise ValueError(f"senet: only the 7x7 stem of SE-ResNeXt is supported, the checkpoint's is {tuple(stem)}")
    layers = stage_depths(state, r"^layer([1-4])\.(\d+)\.")
    if len(layers) != 5 or layers[0] != 0 or min(layers[1:]) < 1:
        raise ValueError(f"senet: expected blocks in layer1 .. layer4, found {layers[1:]}")
    conv2 = first_shape(state, ("layer1.0.conv2.conv.weight", "layer1.0.conv2.weight"), "senet")
    groups = int(conv2[0]) // int(conv2[1])
    if groups < 2 or int(conv2[0]) != 4 * groups:
        raise ValueError(
            f"senet: layer1.0.conv2 {tuple(conv2)} is not an SE-ResNeXt (32x4d-style: 4 channels per group) "
            "bottleneck; SE-ResNet / SENet-154 checkpoints are not supported by this converter"
        )
    fc1 = first_shape(state, _SE_FC1, "senet")
    head = next((state[k] for k in _HEADS if k in state), None)
    if head is None:
        raise ValueError(
            f"senet: the checkpoint has no classifier head (one of {list(_HEADS)}); for backbone-only weights use "
            "the senet_ultrasound bundle's pretrained_path (load_seresnext_pretrained), which keeps a new head"
        )
    return {
        "spatial_dims": 2,
        "in_channels": int(stem[1]),
        "layers": layers[1:],
        "groups": groups,
        "reduction": int(fc1[1]) // int(fc1[0]),
        "inplanes": int(stem[0]),
        "num_classes": int(head.shape[0]),
    }


def _senet_build(kwargs: dict[str, Any]) -> nn.Module:
    return SENet(block=SEResNeXtBottleneck, dropout_prob=None, downsample_kernel_size=1, input_3x3=False, **kwargs)


def _senet_rename(state: StateDict) -> StateDict:
    kwargs = _senet_infer(state)
    with torch.device("meta"):
        network = _senet_build(kwargs)
    converted, _ = convert_seresnext_state_dict(state, network, skip_head=False, source="senet checkpoint")
    return converted


def _senet_looks_like(keys: list[str]) -> bool:
    return any_key(keys, r"^layer[1-4]\.\d+\.(se_module\.fc1|se\.fc1|se_layer\.fc\.0)\.weight$")


def _senet_notes(kwargs: dict[str, Any], keys: list[str]) -> list[str]:
    notes = []
    if "conv1.weight" in keys:
        notes.append(
            "timm / torchvision layout: MONAI's SENet pools the stem like pretrainedmodels (3x3 max-pool, stride 2, "
            "ceil_mode, no padding), timm pads by 1, so outputs differ from timm's (fine-tuning absorbs it); to "
            "compute exactly as timm, build the network with mamba_monai.convert.use_timm_stem_pool(network) "
            '(bundle: "network": "$mamba_monai.convert.use_timm_stem_pool(@network_def).to(@device)"); '
            "pretrainedmodels checkpoints give the original's outputs as they are"
        )
    fifty = {"layers": [3, 4, 6, 3], "groups": 32, "reduction": 16, "inplanes": 64}
    if all(kwargs.get(k) == v for k, v in fifty.items()):
        notes.append(
            "this is monai.networks.nets.SEResNext50(spatial_dims=2, in_channels="
            f"{kwargs['in_channels']}, num_classes={kwargs['num_classes']}); "
            + bundle_note("senet_ultrasound", kwargs, ("in_channels", "num_classes"))
        )
    return notes


SENET = Family(
    name="senet",
    original="SE-ResNeXt (Cadene's pretrainedmodels se_resnext50_32x4d, timm seresnext50_32x4d)",
    network="monai.networks.nets.SENet",
    rename=_senet_rename,
    infer=_senet_infer,
    build=_senet_build,
    looks_like=_senet_looks_like,
    variants={
        "seresnext50": {"layers": [3, 4, 6, 3], "groups": 32, "reduction": 16, "inplanes": 64},
        "seresnext101": {"layers": [3, 4, 23, 3], "groups": 32, "reduction": 16, "inplanes": 64},
    },
    notes=_senet_notes,
)
