"""convert_medmamba_state_dict: the original MedMamba / MedMambaSE keys onto ours."""

from __future__ import annotations

import torch

from mamba_monai.convert import convert_medmamba_state_dict
from mamba_monai.networks.nets.medmambase import MedMambaSE

TINY = {"depths": (1, 1, 1, 1), "dims": (32, 64, 128, 256), "d_state": 4}


def test_original_checkpoint_keys_are_converted():
    net = MedMambaSE(num_classes=6, **TINY)
    original = {
        "module.patch_embed.proj.weight": "patch_embed.proj.weight",
        "layers.0.blocks.0.ln_1.weight": "stages.0.0.norm.weight",
        "layers.1.blocks.0.self_attention.in_proj.weight": "stages.1.0.ss2d.in_proj.weight",
        "layers.1.blocks.0.self_attention.out_norm.bias": "stages.1.0.ss2d.out_norm.bias",
        "layers.1.blocks.0.self_attention.A_logs": "stages.1.0.ss2d.ssm.A_logs",
        "layers.1.blocks.0.self_attention.x_proj_weight": "stages.1.0.ss2d.ssm.x_proj_weight",
        "layers.2.blocks.0.conv33conv33conv11.4.running_var": "stages.2.0.conv_branch.4.running_var",
        "layers.2.blocks.0.se.fc.2.weight": "stages.2.0.se.excitation.2.weight",
        "layers.2.blocks.0.finalconv11.bias": "stages.2.0.final_conv.bias",
        "layers.2.downsample.reduction.weight": "downsamples.2.reduction.weight",
        "head.bias": "head.bias",
    }
    converted = convert_medmamba_state_dict({k: torch.zeros(1) for k in original})
    assert list(converted) == list(original.values())
    assert set(converted) <= set(net.state_dict())
    assert convert_medmamba_state_dict(net.state_dict()).keys() == net.state_dict().keys()
