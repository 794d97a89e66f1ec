"""MedMamba and MedMambaSE: parameter counts of the originals, blocks, shapes, input checks, SE weights, checkpoints."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mamba_monai.networks.blocks.squeeze_excitation import SqueezeExcitation
from mamba_monai.networks.nets.medmamba import MEDMAMBA_VARIANTS, MedMamba, MedMambaBlock, channel_shuffle_last
from mamba_monai.networks.nets.medmambase import MEDMAMBASE_VARIANTS, MedMambaSE, MedMambaSEBlock

TINY = {"depths": (1, 1, 1, 1), "dims": (32, 64, 128, 256), "d_state": 4}


def n_params(module):
    return sum(p.numel() for p in module.parameters())


# Parameter counts of the originals' VSSM(num_classes=6) as built: YubiaoYue/MedMamba MedMamba.py @ 104beb3
# (medmamba_t / _s / _b) and Tanjim-Islam/MedMambaSE main.ipynb @ d3a2166 (VSSM defaults). Published: 14.46 M,
# 18.63 M, 39.87 M and 14.14 M.
@pytest.mark.parametrize(
    "build, expected, published",
    [
        (lambda: MedMamba(num_classes=6, variant="t"), 14_457_222, 14.46e6),
        (lambda: MedMamba(num_classes=6, variant="s"), 18_625_158, 18.63e6),
        (lambda: MedMamba(num_classes=6, variant="b"), 39_864_838, 39.87e6),
        (lambda: MedMambaSE(num_classes=6), 14_135_814, 14.14e6),
        (lambda: MedMambaSE(num_classes=6, variant="default"), 14_135_814, 14.14e6),
    ],
)
def test_parameter_counts_of_the_originals(build, expected, published):
    with torch.device("meta"):
        net = build()
    assert n_params(net) == expected
    assert abs(expected - published) / published < 0.005


def test_variants_and_int_dims():
    assert MEDMAMBA_VARIANTS["s"] == {"depths": (2, 2, 8, 2), "dims": (96, 192, 384, 768)}
    assert MEDMAMBASE_VARIANTS["default"] == {"depths": (2, 2, 2, 2), "dims": (96, 192, 384, 768)}
    with pytest.raises(ValueError, match=r"MedMambaSE: variant must be one of \['default'\], got 't'"):
        MedMambaSE(variant="t")
    with torch.device("meta"):
        net = MedMamba(num_classes=6, variant="b")
        same = MedMamba(num_classes=6, depths=(2, 2, 12, 2), dims=128)
        se = MedMambaSE(num_classes=6)
    assert net.depths == (2, 2, 12, 2) and net.dims == (128, 256, 512, 1024) and n_params(same) == n_params(net)
    assert [len(s) for s in net.stages] == [2, 2, 12, 2] and len(net.downsamples) == 3
    assert se.depths == (2, 2, 2, 2) and all(isinstance(b, MedMambaSEBlock) for s in se.stages for b in s)


def test_channel_shuffle_alternates_halves():
    x = torch.arange(8.0).expand(2, 3, 5, 8)  # channel-last, channel i holds the value i
    assert channel_shuffle_last(x, 2)[0, 0, 0].tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    y = torch.randn(2, 3, 5, 12)
    expected = F.channel_shuffle(y.permute(0, 3, 1, 2), 3).permute(0, 2, 3, 1)
    assert torch.equal(channel_shuffle_last(y, 3), expected)


def test_medmamba_block_matches_its_definition(backend):
    backend("reference")
    block = MedMambaBlock(16, d_state=4).eval()
    names = [type(m).__name__ for m in block.conv_branch]
    assert names == ["BatchNorm2d", "Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "ReLU"]
    x = torch.randn(2, 5, 7, 16)
    local = block.conv_branch(x[..., :8].permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    global_ = block.ss2d(block.norm(x[..., 8:]))
    expected = torch.stack([local, global_], dim=-1).flatten(-2) + x  # conv / SS2D channels interleaved
    with torch.no_grad():
        assert torch.allclose(block(x), expected, atol=1e-5)


def test_medmamba_se_block_matches_its_definition(backend):
    backend("reference")
    block = MedMambaSEBlock(32, d_state=4, se_reduction=16).eval()
    names = [type(m).__name__ for m in block.conv_branch]
    assert names == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU", "Conv2d"]
    fc1, fc2 = block.se.excitation[0], block.se.excitation[2]
    assert fc1.weight.shape == (2, 32) and fc2.weight.shape == (32, 2) and fc1.bias is None and fc2.bias is None
    x = torch.randn(2, 5, 7, 32)
    local = block.conv_branch(x[..., :16].permute(0, 3, 1, 2))
    global_ = (x[..., 16:] + block.ss2d(block.norm(x[..., 16:]))).permute(0, 3, 1, 2)
    y = torch.cat([local, global_], dim=1)
    weights = torch.sigmoid(fc2(torch.relu(fc1(y.mean(dim=(2, 3))))))
    expected = block.final_conv(y * weights[:, :, None, None]).permute(0, 2, 3, 1) + x
    with torch.no_grad():
        assert torch.allclose(block(x), expected, atol=1e-5)
    assert torch.allclose(block.se.last_weights, weights, atol=1e-6)


@pytest.mark.parametrize("net_class", [MedMamba, MedMambaSE])
@pytest.mark.parametrize("in_channels", [1, 3])
def test_tiny_non_square_forward(backend, net_class, in_channels):
    backend("reference")
    net = net_class(in_channels=in_channels, num_classes=4, **TINY).eval()
    with torch.no_grad():
        y = net(torch.randn(2, in_channels, 64, 96))
        features = net.forward_features(torch.randn(1, in_channels, 64, 96))
        pooled = net_class(in_channels=in_channels, num_classes=0, **TINY).eval()(torch.randn(1, in_channels, 32, 32))
    assert y.shape == (2, 4) and torch.isfinite(y).all()
    assert features.shape == (1, 2, 3, 256)
    assert pooled.shape == (1, 256)


@pytest.mark.parametrize("net_class", [MedMamba, MedMambaSE])
def test_input_errors(net_class):
    net = net_class(in_channels=1, num_classes=2, **TINY)
    with pytest.raises(ValueError, match=r"\(16, 64\) is too small: the minimum is 32 x 32"):
        net(torch.randn(1, 1, 16, 64))
    with pytest.raises(ValueError, match=r"\(64, 80\) is not supported: H and W must be multiples of 32"):
        net(torch.randn(1, 1, 64, 80))
    with pytest.raises(ValueError, match=r"expects \(batch, 1, H, W\)"):
        net(torch.randn(1, 3, 64, 64))
    assert net_class(in_channels=1, num_classes=2, patch_size=2, **TINY).size_divisor == 16


def test_constructor_errors():
    with pytest.raises(ValueError, match="variant must be one of"):
        MedMamba(variant="x")
    with pytest.raises(ValueError, match="each twice the previous"):
        MedMamba(depths=(1, 1), dims=(32, 48))
    with pytest.raises(ValueError, match="one positive entry per stage"):
        MedMambaSE(depths=(1, 1, 1), dims=(32, 64))
    with pytest.raises(ValueError, match="reduction"):
        MedMambaSE(dims=(8, 16, 32, 64))  # 8 // 16 hidden units


@pytest.mark.parametrize("net_class, kwargs", [(MedMamba, {}), (MedMambaSE, {"se_reduction": 4})])
def test_gradients_reach_every_parameter(backend, net_class, kwargs):
    backend("reference")
    net = net_class(in_channels=3, num_classes=3, drop_path_rate=0.0, **TINY, **kwargs)
    net(torch.randn(2, 3, 32, 64)).logsumexp(1).sum().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_se_weights_are_exposed(backend):
    backend("reference")
    net = MedMambaSE(in_channels=1, num_classes=2, **{**TINY, "depths": (1, 2, 1, 1)}).eval()
    assert net.se_weights() == {}
    seen = {}
    layer = net.se_layers()["stages.1.1.se"]
    layer.excitation.register_forward_hook(lambda m, i, o: seen.setdefault("w", o))
    with torch.no_grad():
        net(torch.randn(3, 1, 64, 96))
    weights = net.se_weights()
    assert list(weights) == ["stages.0.0.se", "stages.1.0.se", "stages.1.1.se", "stages.2.0.se", "stages.3.0.se"]
    assert [tuple(w.shape) for w in weights.values()] == [(3, 32), (3, 64), (3, 64), (3, 128), (3, 256)]
    assert all(((w > 0) & (w < 1)).all() for w in weights.values())
    assert torch.equal(seen["w"], weights["stages.1.1.se"])
    assert isinstance(layer, SqueezeExcitation) and not weights["stages.1.1.se"].requires_grad


def test_initialisation_as_original():
    net = MedMamba(num_classes=6, **TINY)
    conv = net.stages[3][0].conv_branch[1].weight  # 128 -> 128, 3x3: fan_out 1152
    assert abs(conv.std().item() / (2 / 1152) ** 0.5 - 1) < 0.05
    assert abs(net.head.weight.std().item() / 0.02 - 1) < 0.1 and not net.head.bias.any()
    in_proj = net.stages[0][0].ss2d.in_proj.weight  # PyTorch's default would give std 0.144 here
    assert abs(in_proj.std().item() / 0.02 - 1) < 0.1
    assert torch.equal(net.patch_embed.norm.weight, torch.ones(32))
