"""convert_msmamba_state_dict against the original Microscopic-Mamba (github.com/zs1314/Microscopic-Mamba @ 8df9997).

The fixture ``fixtures/msmamba_tiny.pt`` holds a state dict of the original ``VSSM`` (original key layout; depths
(1, 2), dims (32, 64), 5 classes; random weights with every tensor perturbed, BatchNorm statistics included), a
square input, the original's logits and last-stage feature map on it (eval mode, CPU, mamba_monai's reference
selective scan substituted for mamba_ssm's) and the constructor arguments in this package's names. It was made by
``python -m tests.convert.generators msmamba CHECKOUT`` (the original code is not needed here). The same conversion was also checked
for the original's default ``microscopicmamba_t`` on 2 x 3 x 224 x 224 inputs.

The original's PSFFN transposes H and W of its output; converted weights reproduce the original only with
``psffn_transpose_hw=True`` (the fixture's config sets it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mamba_monai.convert import convert_msmamba_state_dict
from mamba_monai.networks.nets.msmamba import MSMamba

FIXTURE = Path(__file__).parent / "fixtures" / "msmamba_tiny.pt"
REL_TOL = 1e-4  # max |ours - original| / max |original|


@pytest.fixture(scope="module")
def fixture():
    return torch.load(FIXTURE, weights_only=True)


def build(config, **overrides) -> MSMamba:
    return MSMamba(**{**config, **overrides}).eval()


def relative_error(y, reference):
    return ((y - reference).abs().max() / reference.abs().max()).item()


@pytest.mark.parametrize("scan_backend", ["reference", "compiled"])
def test_converted_weights_reproduce_the_original(fixture, backend, scan_backend):
    backend(scan_backend)
    assert fixture["config"]["psffn_transpose_hw"] is True
    net = build(fixture["config"])
    net.load_state_dict(convert_msmamba_state_dict(fixture["state_dict"]), strict=True)
    with torch.no_grad():
        logits = net(fixture["input"])
        features = net.forward_features(fixture["input"])
    assert logits.shape == fixture["output"].shape
    assert relative_error(logits, fixture["output"]) <= REL_TOL
    assert relative_error(features, fixture["features"]) <= REL_TOL


def test_without_the_transposition_the_outputs_differ(fixture, backend):
    backend("reference")
    net = build(fixture["config"], psffn_transpose_hw=False)
    net.load_state_dict(convert_msmamba_state_dict(fixture["state_dict"]), strict=True)
    with torch.no_grad():
        features = net.forward_features(fixture["input"])
    assert relative_error(features, fixture["features"]) > 100 * REL_TOL


def test_mapping_of_the_original_keys(fixture):
    original = fixture["state_dict"]
    converted = convert_msmamba_state_dict(original)
    pairs = {
        "patch_embed.0.c.weight": "stem.0.conv.weight",
        "patch_embed.0.bn.running_var": "stem.0.adn.N.running_var",
        "patch_embed.2.bn.bias": "stem.1.adn.N.bias",
        "layers.0.downsample.reduction.weight": "downsamples.0.reduction.weight",
        "layers.1.blocks.1.Conv_branch.0.running_mean": "stages.1.1.conv_branch.0.running_mean",
        "layers.1.blocks.1.Conv_branch.1.weight": "stages.1.1.conv_branch.1.conv.weight",
        "layers.1.blocks.1.Conv_branch.2.weight": "stages.1.1.conv_branch.1.adn.N.weight",
        "layers.1.blocks.1.Conv_branch.4.bias": "stages.1.1.conv_branch.2.conv.bias",
        "layers.1.blocks.1.Conv_branch.5.running_var": "stages.1.1.conv_branch.2.adn.N.running_var",
        "layers.1.blocks.1.Conv_branch.7.weight": "stages.1.1.conv_branch.3.conv.weight",
        "layers.1.blocks.1.Conv_branch.8.bias": "stages.1.1.conv_branch.3.adn.N.bias",
        "layers.0.blocks.0.MIFA.DWConv.weight": "stages.0.0.mifa.dw_conv.weight",
        "layers.0.blocks.0.MIFA.attention.conv.weight": "stages.0.0.mifa.attention.conv.weight",
        "layers.0.blocks.0.pvm_layer.skip_scale": "stages.0.0.pvm.skip_scale",
        "layers.0.blocks.0.pvm_layer.norm.weight": "stages.0.0.pvm.norm.weight",
        "layers.0.blocks.0.pvm_layer.mamba.in_proj.weight": "stages.0.0.pvm.mamba.in_proj.weight",
        "layers.0.blocks.0.pvm_layer.mamba.A_logs": "stages.0.0.pvm.mamba.ssm.A_logs",
        "layers.0.blocks.0.pvm_layer.mamba.dt_projs_bias": "stages.0.0.pvm.mamba.ssm.dt_projs_bias",
        "layers.0.blocks.0.pvm_layer.mamba.PSFFN.conv_1.weight": "stages.0.0.pvm.mamba.out_proj.conv_1.weight",
        "head.weight": "head.weight",
    }
    for old, new in pairs.items():
        assert converted[new] is original[old], (old, new)
    # built but never used by the original's forward: dropped
    dropped = set(original) - set(pairs)
    dropped = {k for k in dropped if ".pvm_layer.proj." in k or ".pvm_layer.mamba.out_proj." in k}
    assert len(dropped) == 3 * 3  # 3 blocks x (proj.weight, proj.bias, out_proj.weight)
    assert len(converted) == len(original) - len(dropped)


def test_module_prefix_and_converting_twice(fixture):
    net = build(fixture["config"])
    once = convert_msmamba_state_dict({f"module.{k}": v for k, v in fixture["state_dict"].items()})
    assert once.keys() == net.state_dict().keys()
    assert convert_msmamba_state_dict(once).keys() == once.keys()


def test_checkpoint_of_another_configuration_fails_to_load_by_name(fixture):
    converted = convert_msmamba_state_dict(fixture["state_dict"])
    other_classes = build(fixture["config"], num_classes=7)
    with pytest.raises(RuntimeError, match=r"size mismatch for head\.weight"):
        other_classes.load_state_dict(converted, strict=True)
    deeper = build(fixture["config"], depths=(2, 2))
    with pytest.raises(RuntimeError, match=r"Missing key\(s\).*stages\.0\.1\.conv_branch"):
        deeper.load_state_dict(converted, strict=True)
    renamed = dict(fixture["state_dict"])
    renamed["layers.0.blocks.0.MIFA.extra.weight"] = torch.zeros(1)
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\).*stages\.0\.0\.MIFA\.extra\.weight"):
        build(fixture["config"]).load_state_dict(convert_msmamba_state_dict(renamed), strict=True)
