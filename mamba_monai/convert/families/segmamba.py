"""SegMamba (ge-xing/SegMamba) checkpoints."""

from __future__ import annotations

from typing import Any

from mamba_monai.convert.families.family import (
    Family,
    StateDict,
    any_key,
    builder,
    ssm_state_size,
    stage_depths,
    tensor_shape,
)
from mamba_monai.convert.renames.segmamba import convert_segmamba_state_dict
from mamba_monai.networks.nets.segmamba import SEGMAMBA_VARIANTS, SegMamba

__all__ = ["SEGMAMBA"]


def _segmamba_infer(state: StateDict) -> dict[str, Any]:
    family = "segmamba"
    depths = stage_depths(state, r"^mamba_encoder\.stages\.(\d+)\.(\d+)\.")
    depths += [0] * (4 - len(depths))
    sizes = [int(tensor_shape(state, "mamba_encoder.downsample_layers.0.weight", family)[0])]
    sizes += [int(tensor_shape(state, f"mamba_encoder.downsample_layers.{i}.1.weight", family)[0]) for i in (1, 2, 3)]
    kwargs: dict[str, Any] = {
        "in_channels": int(tensor_shape(state, "encoder1.layer.conv1.conv.weight", family)[1]),
        "out_channels": int(tensor_shape(state, "out.conv.conv.weight", family)[0]),
        "depths": depths,
        "feature_size": sizes,
        "hidden_size": int(tensor_shape(state, "encoder5.layer.conv1.conv.weight", family)[0]),
    }
    in_proj = next((k for k in state if k.endswith("mixer.in_proj.weight")), None)
    if in_proj is not None:
        width, d_model = state[in_proj].shape
        kwargs["d_state"] = ssm_state_size(state, family)
        kwargs["d_conv"] = int(state[in_proj.replace("in_proj", "conv1d")].shape[-1])
        kwargs["expand"] = int(width) // (2 * int(d_model))
    if any(k.startswith(("deep_supervision", "deep_heads", "aux_heads")) for k in state):
        kwargs["deep_supervision"] = True
    return kwargs


def _segmamba_looks_like(keys: list[str]) -> bool:
    return any_key(keys, r"^(vit|mamba_encoder)\.(gscs|downsample_layers)\.")


SEGMAMBA = Family(
    name="segmamba",
    original="ge-xing/SegMamba (model_segmamba/segmamba.py)",
    network="mamba_monai.networks.nets.SegMamba",
    rename=convert_segmamba_state_dict,
    infer=_segmamba_infer,
    build=builder(SegMamba),
    looks_like=_segmamba_looks_like,
    variants=SEGMAMBA_VARIANTS,
    notes=lambda kwargs, keys: [
        "bundle segmamba_brats: copy the file to models/model.pt; its network_def must have the same arguments "
        f"({', '.join(f'{k}={v}' for k, v in kwargs.items())}); the original's BraTS training used out_chans=4 "
        "(softmax over 4 labels) while the bundle uses 3 sigmoid region channels: such a checkpoint needs "
        "out_channels=4 and its own post-processing"
    ],
)
