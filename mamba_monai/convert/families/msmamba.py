"""MSMamba (Microscopic-Mamba, zs1314/Microscopic-Mamba) checkpoints."""

from __future__ import annotations

from typing import Any

import torch

from mamba_monai.convert.families.family import (
    Family,
    StateDict,
    any_key,
    builder,
    bundle_note,
    ssm_state_size,
    stage_depths,
    tensor_shape,
)
from mamba_monai.convert.renames.msmamba import convert_msmamba_state_dict
from mamba_monai.networks.nets.msmamba import MSMAMBA_VARIANTS, MSMamba

__all__ = ["MSMAMBA"]


def _msmamba_infer(state: StateDict) -> dict[str, Any]:
    family = "msmamba"
    depths = stage_depths(state, r"^stages\.(\d+)\.(\d+)\.")
    dims0 = int(tensor_shape(state, "stem.1.conv.weight", family)[0])
    head = state.get("head.weight")
    return {
        "in_channels": int(tensor_shape(state, "stem.0.conv.weight", family)[1]),
        "num_classes": int(head.shape[0]) if isinstance(head, torch.Tensor) else 0,
        "depths": depths,
        "dims": [dims0 * 2**i for i in range(len(depths))],
        "d_state": ssm_state_size(state, family),
    }


def _msmamba_looks_like(keys: list[str]) -> bool:
    return any_key(keys, r"\.PSFFN\.") or any_key(keys, r"^stages\.\d+\.\d+\.pvm\.")


def _msmamba_notes(kwargs: dict[str, Any], keys: list[str]) -> list[str]:
    variant = next(
        (name for name, fixed in MSMAMBA_VARIANTS.items() if all(list(kwargs[k]) == list(v) for k, v in fixed.items())),
        None,
    )
    sizes = f"variant={variant!r}" if variant else f"depths={kwargs['depths']}, dims={kwargs['dims']}"
    return [
        "the original's PSFFN swaps H and W; to compute exactly as the original with these weights build "
        "MSMamba(..., psffn_transpose_hw=True) (square inputs only; bundle: --network_def#psffn_transpose_hw "
        "true); without it the corrected PSFFN runs and outputs differ until fine-tuned",
        f"bundle msmamba_microscopy: network_def needs {sizes}, "
        + bundle_note("msmamba_microscopy", kwargs, ("in_channels", "num_classes")).split(": ", 1)[1],
    ]


MSMAMBA = Family(
    name="msmamba",
    original="zs1314/Microscopic-Mamba (microscopicmamba.py)",
    network="mamba_monai.networks.nets.MSMamba",
    rename=convert_msmamba_state_dict,
    infer=_msmamba_infer,
    build=builder(MSMamba),
    looks_like=_msmamba_looks_like,
    variants=MSMAMBA_VARIANTS,
    notes=_msmamba_notes,
)
