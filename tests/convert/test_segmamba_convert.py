"""convert_segmamba_state_dict against the original SegMamba (github.com/ge-xing/SegMamba @ cff3597).

The fixture ``fixtures/segmamba_tiny.pt`` holds a state dict of the original ``SegMamba`` (original key layout,
random weights, every tensor perturbed so that the three scan directions differ), an input, the original's output
on it (eval mode, CPU, mamba_monai's reference selective scan substituted for the CUDA kernels) and the constructor
arguments in this package's names. It was made by ``python -m tests.convert.generators segmamba CHECKOUT`` (the
original code is not needed here). Two changes to the original instance were needed at this tiny size, both recorded
in the fixture's "note": its output block was rebuilt with ``feat_size[0]`` input channels (the original hard-codes 48), and each
Mamba layer's ``nslices`` was set to its stage's first spatial axis (the original hard-codes 64/32/16/8, valid for
a first axis of 128 only). The same conversion was also checked at the default width (67.4 M parameters) on a
4 x 128 x 16 x 32 input with the original unmodified.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mamba_monai.convert import convert_segmamba_state_dict
from mamba_monai.networks.nets.segmamba import SegMamba

FIXTURE = Path(__file__).parent / "fixtures" / "segmamba_tiny.pt"
REL_TOL = 1e-4  # max |ours - original| / max |original|


@pytest.fixture(scope="module")
def fixture():
    return torch.load(FIXTURE, weights_only=True)


def build(config) -> SegMamba:
    return SegMamba(**config).eval()


def relative_error(y, reference):
    return ((y - reference).abs().max() / reference.abs().max()).item()


@pytest.mark.parametrize("scan_backend", ["reference", "compiled"])
def test_converted_weights_reproduce_the_original(fixture, backend, scan_backend):
    backend(scan_backend)
    net = build(fixture["config"])
    net.load_state_dict(convert_segmamba_state_dict(fixture["state_dict"]), strict=True)
    with torch.no_grad():
        y = net(fixture["input"])
    assert y.shape == fixture["output"].shape
    assert relative_error(y, fixture["output"]) <= REL_TOL


def test_mapping_of_the_original_keys(fixture):
    original = fixture["state_dict"]
    converted = convert_segmamba_state_dict(original)
    prefix = "mamba_encoder.stages.0.1.mixer."
    old = "vit.stages.0.1.mamba."
    d_inner = original[old + "D"].shape[0]
    # directions stacked / concatenated in the order forward, reverse ("_b"), inter-slice ("_s")
    for i, suffix in enumerate(["", "_b", "_s"]):
        rows = slice(i * d_inner, (i + 1) * d_inner)
        assert torch.equal(converted[prefix + "ssm.x_proj_weight"][i], original[old + f"x_proj{suffix}.weight"])
        assert torch.equal(converted[prefix + "ssm.dt_projs_weight"][i], original[old + f"dt_proj{suffix}.weight"])
        assert torch.equal(converted[prefix + "ssm.dt_projs_bias"][i], original[old + f"dt_proj{suffix}.bias"])
        assert torch.equal(converted[prefix + "ssm.A_logs"][rows], original[old + f"A{suffix}_log"])
        assert torch.equal(converted[prefix + "ssm.Ds"][rows], original[old + f"D{suffix}"])
        assert torch.equal(converted[prefix + "conv1d.weight"][rows], original[old + f"conv1d{suffix}.weight"])
        assert torch.equal(converted[prefix + "conv1d.bias"][rows], original[old + f"conv1d{suffix}.bias"])
    assert torch.equal(converted[prefix + "in_proj.weight"], original[old + "in_proj.weight"])
    stem = original["vit.downsample_layers.0.0.weight"]
    assert torch.equal(converted["mamba_encoder.downsample_layers.0.weight"], stem)
    assert torch.equal(converted["mamba_encoder.gscs.2.side.conv.bias"], original["vit.gscs.2.proj3.bias"])
    assert torch.equal(converted["mamba_encoder.mlps.3.2.weight"], original["vit.mlps.3.fc2.weight"])
    assert torch.equal(converted["decoder5.transp_conv.conv.weight"], original["decoder5.transp_conv.conv.weight"])


def test_module_prefix_and_converting_twice(fixture):
    net = build(fixture["config"])
    wrapped = {f"module.{k}": v for k, v in fixture["state_dict"].items()}
    once = convert_segmamba_state_dict(wrapped)
    assert once.keys() == net.state_dict().keys()
    twice = convert_segmamba_state_dict(once)
    assert twice.keys() == once.keys() and all(torch.equal(twice[k], once[k]) for k in once)


def test_missing_direction_is_a_clear_error(fixture):
    state_dict = dict(fixture["state_dict"])
    del state_dict["vit.stages.1.0.mamba.x_proj_s.weight"]
    with pytest.raises(ValueError, match=r"missing: vit\.stages\.1\.0\.mamba\.x_proj_s\.weight$"):
        convert_segmamba_state_dict(state_dict)


def test_direction_shape_disagreement_is_a_clear_error(fixture):
    state_dict = dict(fixture["state_dict"])
    key = "vit.stages.0.0.mamba.A_b_log"
    state_dict[key] = torch.zeros(state_dict[key].shape[0], state_dict[key].shape[1] + 1)
    with pytest.raises(ValueError, match=r"vit\.stages\.0\.0\.mamba must have tensors of the same shape.*A_b_log"):
        convert_segmamba_state_dict(state_dict)


def test_checkpoint_of_another_configuration_fails_to_load_by_name(fixture):
    converted = convert_segmamba_state_dict(fixture["state_dict"])
    wider = SegMamba(**{**fixture["config"], "hidden_size": 16})
    with pytest.raises(RuntimeError, match=r"size mismatch for encoder5\.layer\.conv1\.conv\.weight"):
        wider.load_state_dict(converted, strict=True)
    deeper = SegMamba(**{**fixture["config"], "depths": (2, 2, 1, 1)})
    with pytest.raises(RuntimeError, match=r"Missing key\(s\).*mamba_encoder\.stages\.1\.1\.mixer"):
        deeper.load_state_dict(converted, strict=True)
    renamed = dict(fixture["state_dict"])
    renamed["vit.unknown.weight"] = torch.zeros(1)
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\).*mamba_encoder\.unknown\.weight"):
        build(fixture["config"]).load_state_dict(convert_segmamba_state_dict(renamed), strict=True)
