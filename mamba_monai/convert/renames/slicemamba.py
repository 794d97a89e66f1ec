"""Key renaming of SliceMamba checkpoints (fAnchao1/SliceMamba ``VSSM`` / ``SMUNet``), supernets and retrained
networks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

from mamba_monai.convert.checkpoint_io import strip_prefix
from mamba_monai.networks.blocks.genotype import Genotype, GenotypeLike

__all__ = ["convert_slicemamba_state_dict"]


_SSM_TENSORS = ("x_proj_weight", "dt_projs_weight", "dt_projs_bias", "A_logs", "Ds")


def convert_slicemamba_state_dict(
    state_dict: Mapping[str, torch.Tensor], genotype: GenotypeLike | None = None
) -> dict[str, Any]:
    """Map a checkpoint of the original code (fAnchao1/SliceMamba ``VSSM`` / ``SMUNet``) onto this module's keys.

    Both layouts are recognised: the supernet's (``layers.{s}.blocks.{j}.{choice}.…``, for
    :class:`SliceMambaSupernet`) and the retrained network's (``layers.{s}.blocks.{j}.…``, for :class:`SliceMamba`).
    A leading ``module.`` (DataParallel) and ``smunet.`` (the ``SMUNet`` wrapper) are removed.

    Args:
        state_dict: the original's state dict.
        genotype: the architecture the retrained network was built with (the original's ``arch.pkl`` tuple);
            required for a retrained network's checkpoint, which does not record it, and stored in the result.
            Not used for a supernet checkpoint.

    Returns:
        A state dict for ``SliceMamba(...)`` / ``SliceMambaSupernet(...)`` with the original's dims and depths.
    """
    out: dict[str, Any] = {}
    supernet = None
    for key, value in strip_prefix(state_dict, every_key=False).items():  # DataParallel / DDP checkpoints
        key = re.sub(r"^smunet\.", "", key)
        m = re.match(r"^(layers|layers_up)\.(\d+)\.(blocks|downsample|upsample)\.(.*)$", key)
        if m is None:
            if key.startswith("final_up."):
                key = "final_expand." + key[len("final_up.") :]
            out[key] = value
            continue
        part, stage, kind, rest = m.group(1), int(m.group(2)), m.group(3), m.group(4)
        if kind == "downsample":
            out[f"downsamples.{stage}.{rest}"] = value
        elif kind == "upsample":
            out[f"upsamples.{stage - 1}.{rest}"] = value
        else:
            block = re.match(r"^(\d+)\.(?:(\d+)\.)?(ln_1|self_attention)\.(.*)$", rest)
            if block is None:
                raise ValueError(f"convert_slicemamba_state_dict: unexpected key {key!r}")
            index, choice, module, name = block.groups()
            is_supernet = choice is not None
            if supernet is not None and supernet != is_supernet:
                raise ValueError("convert_slicemamba_state_dict: mixed supernet and retrained-network keys")
            supernet = is_supernet
            if module == "ln_1":
                name = f"norm.{name}"
            else:
                name = f"mixer.ssm.{name}" if name in _SSM_TENSORS else f"mixer.{name}"
            position = f"{'encoder' if part == 'layers' else 'decoder'}.{stage}.{index}"
            out[f"{position}.{choice}.{name}" if is_supernet else f"{position}.{name}"] = value
    if supernet is False:
        if genotype is None:
            raise ValueError(
                "convert_slicemamba_state_dict: a retrained SliceMamba checkpoint does not record its architecture; "
                "pass genotype= (the original's arch.pkl tuple)"
            )
        out["_extra_state"] = Genotype.parse(genotype).to_dict()
    return out
