"""SegMamba: parameter counts of the original, shapes (non-cubic), deep supervision, input rules, MONAI integration."""

from __future__ import annotations

import json

import pytest
import torch
from monai.bundle import verify_net_in_out
from monai.inferers import SlidingWindowInferer
from monai.losses import DeepSupervisionLoss, DiceLoss

from mamba_monai.networks.blocks.gsc import GSC
from mamba_monai.networks.blocks.mamba_layer import MambaLayer
from mamba_monai.networks.nets.segmamba import SegMamba, SegMambaEncoder

TINY = {"feature_size": (8, 16, 32, 64), "hidden_size": 64}


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_default_parameter_counts_match_original():
    net = SegMamba()
    total = n_params(net)
    mamba = sum(n_params(m) for m in net.modules() if isinstance(m, MambaLayer))
    assert abs(total - 67.42e6) <= 0.005 * 67.42e6, total
    assert abs(mamba - 3.1e6) <= 0.03 * 3.1e6, mamba
    assert sum(isinstance(m, MambaLayer) for m in net.modules()) == 8
    assert net.deep_supervision_heads is None  # the option adds nothing unless asked for


def test_gsc_layout_and_residual():
    c = 12
    gsc = GSC(c)
    # two 3x3x3 convs and two 1x1x1 convs, all with bias; instance norms without affine parameters
    assert n_params(gsc) == 2 * (27 * c * c + c) + 2 * (c * c + c)
    x = torch.randn(2, c, 4, 6, 5)
    assert gsc(x).shape == x.shape
    with torch.no_grad():  # a zero fusing conv makes the block the identity: ReLU(IN(0)) = 0
        gsc.fuse.conv.weight.zero_()
        gsc.fuse.conv.bias.zero_()
    assert torch.equal(gsc(x), x)
    with pytest.raises(ValueError, match=r"GSC expects channel-first input \(B, 12"):
        gsc(torch.randn(2, 5, 4, 6, 5))


def test_mamba_layer_is_a_residual_around_the_mixer():
    layer = MambaLayer(16, d_state=4)
    x = torch.randn(2, 16, 4, 3, 5)  # non-cubic; the inter-slice scan follows the first axis (4)
    y = layer(x)
    assert y.shape == x.shape and not torch.allclose(y, x)
    with torch.no_grad():
        layer.mixer.out_proj.weight.zero_()
    assert torch.equal(layer(x), x)
    with pytest.raises(ValueError, match=r"MambaLayer expects channel-first input \(B, 16"):
        layer(torch.randn(2, 4, 3, 5, 16))  # channel-last by mistake


def test_encoder_skip_shapes():
    enc = SegMambaEncoder(4, depths=(1, 1, 1, 1), feature_size=(8, 16, 32, 64), d_state=4)
    outs = enc(torch.randn(1, 4, 32, 64, 48))
    assert [tuple(o.shape) for o in outs] == [
        (1, 8, 16, 32, 24),
        (1, 16, 8, 16, 12),
        (1, 32, 4, 8, 6),
        (1, 64, 2, 4, 3),
    ]


def test_forward_non_cubic_tiny():
    net = SegMamba(**TINY)
    x = torch.randn(2, 4, 32, 48, 16)
    y = net(x)
    assert isinstance(y, torch.Tensor) and y.shape == (2, 3, 32, 48, 16) and torch.isfinite(y).all()
    # the output block follows feature_size[0] (the original hard-codes 48)
    assert net.out.conv.conv.in_channels == 8


def test_deep_supervision_outputs():
    net = SegMamba(**TINY, out_channels=2, deep_supervision=True)
    x = torch.randn(1, 4, 32, 48, 64)
    net.train()
    outs = net(x)
    assert isinstance(outs, list)
    assert [tuple(o.shape) for o in outs] == [
        (1, 2, 32, 48, 64),
        (1, 2, 16, 24, 32),
        (1, 2, 8, 12, 16),
        (1, 2, 4, 6, 8),
    ]
    # MONAI's deep-supervision loss takes the list as it is
    target = (torch.rand(1, 2, 32, 48, 64) > 0.5).float()
    loss = DeepSupervisionLoss(DiceLoss(sigmoid=True))(outs, target)
    assert torch.isfinite(loss)
    net.eval()
    with torch.no_grad():
        y = net(x)
    assert isinstance(y, torch.Tensor) and y.shape == (1, 2, 32, 48, 64)
    torch.testing.assert_close(y, outs[0].detach(), rtol=1e-4, atol=1e-4)  # no dropout / batch norm: same map


def test_no_deep_supervision_returns_tensor_in_training():
    net = SegMamba(**TINY).train()
    assert isinstance(net(torch.randn(1, 4, 32, 32, 16)), torch.Tensor)


@pytest.mark.parametrize(
    "shape, message",
    [
        ((1, 4, 32, 40, 16), r"multiple of 16.*\(32, 40, 16\)"),
        ((1, 4, 17, 32, 32), r"multiple of 16.*\(17, 32, 32\)"),
        ((1, 4, 16, 16, 16), r"more than one voxel.*\(16, 16, 16\)"),
        ((1, 3, 32, 32, 32), r"expects input \(B, 4, D, H, W\)"),
        ((4, 32, 32, 32), r"expects input \(B, 4, D, H, W\)"),
    ],
)
def test_bad_input_shapes_rejected(shape, message):
    net = SegMamba(**TINY)
    with pytest.raises(ValueError, match=message):
        net(torch.randn(*shape))


def test_bad_constructor_arguments_rejected():
    with pytest.raises(ValueError, match="spatial_dims=3"):
        SegMamba(**TINY, spatial_dims=2)
    with pytest.raises(ValueError, match="feature_size must be 4"):
        SegMamba(feature_size=(8, 16, 32), hidden_size=64)
    with pytest.raises(ValueError, match="depths must be 4"):
        SegMamba(**TINY, depths=(2, 2))
    with pytest.raises(ValueError, match="out_channels"):
        SegMamba(**TINY, out_channels=0)


def test_sliding_window_inference_on_larger_volume():
    net = SegMamba(**TINY).eval()
    inferer = SlidingWindowInferer(roi_size=(32, 32, 32), sw_batch_size=2, overlap=0.25)
    with torch.no_grad():
        y = inferer(torch.randn(1, 4, 40, 40, 40), net)
    assert y.shape == (1, 3, 40, 40, 40) and torch.isfinite(y).all()


def test_monai_bundle_verify_net_in_out(tmp_path):
    config = {
        "imports": ["$import mamba_monai"],
        "network_def": {
            "_target_": "mamba_monai.networks.nets.segmamba.SegMamba",
            "feature_size": list(TINY["feature_size"]),
            "hidden_size": TINY["hidden_size"],
        },
    }
    shape = ["16*n", "16*n", "16*n"]
    meta = {
        "network_data_format": {
            "inputs": {"image": {"num_channels": 4, "spatial_shape": shape, "dtype": "float32"}},
            "outputs": {"pred": {"num_channels": 3, "spatial_shape": shape, "dtype": "float32"}},
        }
    }
    (tmp_path / "inference.json").write_text(json.dumps(config))
    (tmp_path / "metadata.json").write_text(json.dumps(meta))
    # n=2: a 32^3 patch (16^3 leaves a single voxel at the deepest stage and is rejected)
    verify_net_in_out(
        net_id="network_def",
        meta_file=str(tmp_path / "metadata.json"),
        config_file=str(tmp_path / "inference.json"),
        device="cpu",
        n=2,
    )


def test_gradients_reach_every_parameter():
    net = SegMamba(**TINY, deep_supervision=True).train()
    outs = net(torch.randn(1, 4, 32, 32, 16))
    sum(o.square().mean() for o in outs).backward()
    # conv biases right before an instance norm (the GSC convs) are cancelled by the norm: zero gradient in exact
    # arithmetic, so only their presence is checked
    cancelled = {n for n, _ in net.named_parameters() if ".gscs." in f".{n}" and n.endswith(".conv.bias")}
    assert len(cancelled) == 16
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        if name not in cancelled:
            assert p.grad.abs().max() > 0, name
