"""Key renaming of MedMamba (YubiaoYue/MedMamba) and MedMambaSE (Tanjim-Islam/MedMambaSE) checkpoints."""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from mamba_monai.convert.checkpoint_io import strip_prefix

__all__ = ["convert_medmamba_state_dict"]


# (pattern in the original's state-dict keys, replacement here), applied in order
_ORIGINAL_KEY_RULES: tuple[tuple[str, str], ...] = (
    (r"^layers\.(\d+)\.downsample\.", r"downsamples.\1."),
    (r"^layers\.(\d+)\.blocks\.(\d+)\.", r"stages.\1.\2."),
    (r"\.ln_1\.", ".norm."),
    (r"\.self_attention\.(x_proj_weight|dt_projs_weight|dt_projs_bias|A_logs|Ds)$", r".ss2d.ssm.\1"),
    (r"\.self_attention\.", ".ss2d."),
    (r"\.conv33conv33conv11\.", ".conv_branch."),
    (r"\.finalconv11\.", ".final_conv."),
    (r"\.se\.fc\.", ".se.excitation."),
)


def convert_medmamba_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the keys of a checkpoint of the original MedMamba / MedMambaSE ``VSSM`` to this package's
    :class:`MedMamba` / ``MedMambaSE`` keys (e.g. ``layers.0.blocks.1.self_attention.A_logs`` ->
    ``stages.0.1.ss2d.ssm.A_logs``); keys already in this package's form are kept. Load the result with
    ``load_state_dict``, which reports anything left over."""
    converted = {}
    for key, value in strip_prefix(state_dict, every_key=False).items():
        new_key = key
        for pattern, replacement in _ORIGINAL_KEY_RULES:
            new_key = re.sub(pattern, replacement, new_key)
        converted[new_key] = value
    return converted
