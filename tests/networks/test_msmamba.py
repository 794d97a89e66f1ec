"""MSMamba (Microscopic-Mamba): parameter counts of the original, shapes, the PSFFN transposition option, blocks, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mamba_monai.networks.blocks.eca import DepthwiseECA
from mamba_monai.networks.blocks.mifa import MIFA
from mamba_monai.networks.blocks.parallel_vssm import ParallelVSSM
from mamba_monai.networks.blocks.psffn import PSFFN
from mamba_monai.networks.blocks.ss2d_psffn import SS2DPSFFN
from mamba_monai.networks.nets.msmamba import MSMAMBA_VARIANTS, MSMamba

TINY = {"depths": (1, 1, 1, 1), "dims": (32, 64, 128, 256)}


def n_params(module):
    return sum(p.numel() for p in module.parameters())


# Parameter counts of zs1314/Microscopic-Mamba's VSSM(num_classes=1000) as built (microscopicmamba.py @ 8df9997).
ORIGINAL_BUILT = {"t": 4_321_310, "s": 4_971_714, "b": 9_405_578}


def unused_in_original(depths, dims):
    # per block: PVMLayer.proj = Linear(C/2, C/2) with bias; SS2D.out_proj = Linear(C/4, C/8) without bias
    return sum(d * ((c // 2) ** 2 + c // 2 + (c // 4) * (c // 8)) for d, c in zip(depths, dims))


@pytest.mark.parametrize("variant, expected", [("t", 3_795_902), ("s", 4_279_650), ("b", 7_880_458)])
def test_parameter_count_is_original_minus_unused_layers(variant, expected):
    depths, dims = MSMAMBA_VARIANTS[variant]["depths"], MSMAMBA_VARIANTS[variant]["dims"]
    unused = unused_in_original(depths, dims)
    assert unused == {"t": 525_408, "s": 692_064, "b": 1_525_120}[variant]
    assert ORIGINAL_BUILT[variant] - unused == expected
    assert n_params(MSMamba(in_channels=3, num_classes=1000, variant=variant)) == expected


@pytest.mark.parametrize("in_channels", [1, 3])
def test_t_variant_non_square_forward(in_channels):
    net = MSMamba(in_channels=in_channels, num_classes=5, variant="t").eval()
    with torch.no_grad():
        y = net(torch.randn(2, in_channels, 64, 96))
    assert y.shape == (2, 5) and torch.isfinite(y).all()
    assert net.forward_features(torch.randn(1, in_channels, 64, 96)).shape == (1, 2, 3, 768)


def test_gradients_reach_every_parameter():
    net = MSMamba(in_channels=1, num_classes=3, drop_path_rate=0.0, **TINY)
    net(torch.randn(2, 1, 32, 64)).logsumexp(1).sum().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_num_classes_zero_returns_features():
    net = MSMamba(num_classes=0, **TINY).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 32, 32)).shape == (1, 256)


def test_psffn_matches_its_definition():
    m = PSFFN(6, 8)  # int(8 * 0.25) = 2 channels through the depthwise conv
    x = torch.randn(2, 6, 5, 7)
    y = F.silu(m.conv_0(x))
    y = torch.cat([F.silu(m.conv_1(y[:, :2])), y[:, 2:]], 1)
    expected = torch.cat([y[:, 0::2], y[:, 1::2]], 1)  # shuffle with C / 2 groups: even channels, then odd ones
    assert torch.allclose(m(x), expected, atol=1e-6)
    channels_last = PSFFN(6, 8, channels_last=True)
    channels_last.load_state_dict(m.state_dict())
    assert torch.allclose(channels_last(x.permute(0, 2, 3, 1)), expected.permute(0, 2, 3, 1), atol=1e-6)


def test_psffn_transpose_option_only_swaps_h_and_w():
    fixed, original = PSFFN(6, 8), PSFFN(6, 8, transpose_hw=True)
    original.load_state_dict(fixed.state_dict())
    x = torch.randn(2, 6, 5, 7)
    assert original(x).shape == (2, 8, 7, 5)
    assert torch.equal(original(x), fixed(x).transpose(2, 3))


def test_mixer_transpose_option_differs_only_by_the_transposed_psffn_output():
    # on square maps the original adds the PSFFN output mirrored about the diagonal to the un-mirrored residual
    fixed, original = SS2DPSFFN(8), SS2DPSFFN(8, psffn_transpose_hw=True)
    original.load_state_dict(fixed.state_dict())
    x = torch.randn(2, 6, 6, 8)
    delta_fixed, delta_original = fixed(x) - x, original(x) - x
    assert torch.allclose(delta_original, delta_fixed.transpose(1, 2), atol=1e-5)
    assert not torch.allclose(delta_original, delta_fixed, atol=1e-3)
    with pytest.raises(ValueError, match=r"square maps \(H == W\)"):
        original(torch.randn(1, 6, 4, 8))
    assert fixed(torch.randn(1, 6, 4, 8)).shape == (1, 6, 4, 8)


def test_network_transpose_option_shares_weights_and_needs_square_input():
    fixed = MSMamba(num_classes=4, **TINY).eval()
    original = MSMamba(num_classes=4, psffn_transpose_hw=True, **TINY).eval()
    original.load_state_dict(fixed.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(original(x), fixed(x), atol=1e-6)
    with pytest.raises(ValueError, match=r"square inputs, got \(H, W\) = \(32, 64\)"):
        original(torch.randn(1, 3, 32, 64))


def test_parallel_vssm_runs_every_group_through_the_shared_mixer():
    m = ParallelVSSM(16)
    with torch.no_grad():
        m.skip_scale.fill_(0.5)
        m.norm.weight.uniform_(0.5, 1.5)
    x = torch.randn(2, 5, 6, 16)
    groups = m.norm(x).chunk(4, dim=-1)
    expected = m.norm(torch.cat([m.mamba(g) + 0.5 * g for g in groups], dim=-1))
    assert torch.allclose(m(x), expected, atol=1e-5)


def test_depthwise_eca_gates_each_channel_by_its_neighbourhood():
    eca = DepthwiseECA(4, kernel_size=3)
    x = torch.randn(2, 4, 3, 5)
    means = F.pad(x.mean((2, 3)), (1, 1))
    w = eca.conv.weight[:, 0]  # (C, 3)
    gate = torch.stack([(means[:, c : c + 3] * w[c]).sum(1) for c in range(4)], 1).sigmoid()
    assert torch.allclose(eca(x), x * gate[:, :, None, None], atol=1e-6)
    assert n_params(DepthwiseECA(96)) == 96  # one weight per channel with kernel 1 (timm's EcaModule would have 1)


def test_mifa_cross_gates_and_shuffles():
    m = MIFA(4)
    torch.nn.init.zeros_(m.attention.conv.weight)  # gate 0.5 everywhere
    local, glob = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    gate_local, gate_glob = torch.sigmoid(F.relu(m.dw_conv(local))), torch.sigmoid(F.gelu(m.dw_conv(glob)))
    fused = torch.cat([gate_local * glob, gate_glob * local], 1)  # each gate scales the other map
    expected = 0.5 * fused.view(2, 2, 4, 3, 3).transpose(1, 2).reshape(2, 8, 3, 3)
    assert torch.allclose(m(local, glob), expected, atol=1e-6)


@pytest.mark.parametrize(
    "shape, message",
    [
        ((1, 3, 16, 64), r"\(H, W\) = \(16, 64\) is too small: the minimum is 32 x 32"),
        ((1, 3, 64, 80), r"\(H, W\) = \(64, 80\) is not supported: H and W must be multiples of 32"),
        ((1, 1, 64, 64), r"expects \(batch, 3, H, W\) images"),
        ((3, 64, 64), r"got shape \(3, 64, 64\)"),
    ],
)
def test_rejects_bad_input(shape, message):
    with pytest.raises(ValueError, match=message):
        MSMamba(num_classes=2, **TINY)(torch.randn(*shape))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"variant": "xl"}, "variant must be one of"),
        ({"dims": (32, 64, 128, 512)}, "each twice the previous"),
        ({"dims": (24, 48, 96, 192)}, "multiples of 16"),
        ({"depths": (1, 1, 1), "dims": (32, 64, 128, 256)}, "one positive entry per stage"),
    ],
)
def test_rejects_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MSMamba(**kwargs)
