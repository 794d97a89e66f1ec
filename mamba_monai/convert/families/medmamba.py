"""MedMamba (YubiaoYue/MedMamba) and MedMambaSE (Tanjim-Islam/MedMambaSE) checkpoints."""

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
from mamba_monai.convert.renames.medmamba import convert_medmamba_state_dict
from mamba_monai.networks.nets.medmamba import MEDMAMBA_VARIANTS, MedMamba
from mamba_monai.networks.nets.medmambase import MEDMAMBASE_VARIANTS, MedMambaSE

__all__ = ["MEDMAMBA", "MEDMAMBASE"]


def _medmamba_infer(state: StateDict, family: str = "medmamba") -> dict[str, Any]:
    """MedMamba's constructor arguments from converted tensors (also MedMambaSE's, which shares the trunk)."""
    embed = tensor_shape(state, "patch_embed.proj.weight", family)  # (dims[0], in_channels, patch, patch)
    depths = stage_depths(state, r"^stages\.(\d+)\.(\d+)\.")
    if not depths or min(depths) < 1:
        raise ValueError(f"{family}: cannot tell the stage depths from the keys (found {depths or 'no blocks'})")
    dims = [2 * int(tensor_shape(state, f"stages.{i}.0.norm.weight", family)[0]) for i in range(len(depths))]
    head = state.get("head.weight")
    return {
        "in_channels": int(embed[1]),
        "num_classes": int(head.shape[0]) if isinstance(head, torch.Tensor) else 0,
        "depths": depths,
        "dims": dims,
        "d_state": ssm_state_size(state, family),
        "patch_size": int(embed[2]),
    }


def _medmamba_looks_like(keys: list[str]) -> bool:
    original = any_key(keys, r"\.conv33conv33conv11\.") and not any_key(keys, r"\.(se\.fc|finalconv11)\.")
    ours = any_key(keys, r"^stages\.\d+\.\d+\.ss2d\.") and not any_key(keys, r"\.(se|final_conv)\.")
    return original or ours


def _medmambase_infer(state: StateDict) -> dict[str, Any]:
    kwargs = _medmamba_infer(state, "medmambase")
    hidden = tensor_shape(state, "stages.0.0.se.excitation.0.weight", "medmambase")  # (C / r, C)
    kwargs["se_reduction"] = int(hidden[1]) // int(hidden[0])
    return kwargs


def _medmambase_looks_like(keys: list[str]) -> bool:
    return (
        any_key(keys, r"\.se\.fc\.\d\.weight$")
        and any_key(keys, r"\.finalconv11\.")
        or any_key(keys, r"^stages\.\d+\.\d+\.se\.excitation\.")
    )


MEDMAMBA = Family(
    name="medmamba",
    original="YubiaoYue/MedMamba (MedMamba.py, VSSM)",
    network="mamba_monai.networks.nets.MedMamba",
    rename=convert_medmamba_state_dict,
    infer=_medmamba_infer,
    build=builder(MedMamba),
    looks_like=_medmamba_looks_like,
    variants=MEDMAMBA_VARIANTS,
)

MEDMAMBASE = Family(
    name="medmambase",
    original="Tanjim-Islam/MedMambaSE (main.ipynb, VSSM)",
    network="mamba_monai.networks.nets.MedMambaSE",
    rename=convert_medmamba_state_dict,
    infer=_medmambase_infer,
    build=builder(MedMambaSE),
    looks_like=_medmambase_looks_like,
    variants=MEDMAMBASE_VARIANTS,
    notes=lambda kwargs, keys: [
        bundle_note(
            "medmambase_ultrasound",
            kwargs,
            ("in_channels", "depths", "dims", "d_state", "se_reduction", "num_classes"),
        )
    ],
)
