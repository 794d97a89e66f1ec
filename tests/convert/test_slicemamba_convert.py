"""convert_slicemamba_state_dict: the original's key layouts (retrained network and supernet) onto ours."""

from __future__ import annotations

import pytest
import torch

from mamba_monai.convert import convert_slicemamba_state_dict
from mamba_monai.networks.blocks.genotype import random_genotype
from mamba_monai.networks.nets.slicemamba import SliceMamba, SliceMambaSupernet


def _to_original_keys(state):
    """Our SliceMamba keys written back in the original's naming (independent of the converter's code)."""
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] in ("encoder", "decoder"):
            layer = "layers" if parts[0] == "encoder" else "layers_up"
            choice, rest = ([parts[3]], parts[4:]) if parts[3].isdigit() else ([], parts[3:])
            if rest[0] == "norm":
                rest = ["ln_1", *rest[1:]]
            elif rest[0] == "mixer":
                rest = ["self_attention", *(rest[2:] if rest[1] == "ssm" else rest[1:])]
            key = ".".join([layer, parts[1], "blocks", parts[2], *choice, *rest])
        elif parts[0] == "downsamples":
            key = ".".join(["layers", parts[1], "downsample", *parts[2:]])
        elif parts[0] == "upsamples":
            key = ".".join(["layers_up", str(int(parts[1]) + 1), "upsample", *parts[2:]])
        elif parts[0] == "final_expand":
            key = ".".join(["final_up", *parts[1:]])
        elif parts[0] == "_extra_state":
            continue
        out["smunet." + key] = value
    return out


def test_convert_original_state_dict():
    genotype = random_genotype(11)
    with torch.device("meta"):
        net = SliceMamba(genotype=genotype, dims=(8, 16, 32, 64))
    ours = net.state_dict()
    original = _to_original_keys(ours)
    assert "smunet.layers.2.blocks.8.self_attention.A_logs" in original
    assert "smunet.layers_up.3.upsample.expand.weight" in original
    converted = convert_slicemamba_state_dict(original, tuple(genotype))
    assert converted.keys() == ours.keys() and converted["_extra_state"] == genotype.to_dict()
    assert all(converted[k] is v for k, v in ours.items() if k != "_extra_state")
    with pytest.raises(ValueError, match="pass genotype="):
        convert_slicemamba_state_dict(original)
    with torch.device("meta"):
        supernet = SliceMambaSupernet(dims=(8, 16, 32, 64))
    ours = supernet.state_dict()
    original = _to_original_keys(ours)
    assert "smunet.layers_up.0.blocks.1.3.ln_1.weight" in original
    converted = convert_slicemamba_state_dict(original)
    assert converted.keys() == ours.keys() and all(converted[k] is v for k, v in ours.items())
