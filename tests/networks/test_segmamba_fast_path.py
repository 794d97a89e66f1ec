"""SegMamba's CPU fast path (group-norm kernel for instance norm, channels-last convolutions) computes the same
function as the plain path: forward and gradients, float32 and bfloat16 autocast."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mamba_monai.networks.blocks.fast_instance_norm import GroupNormInstanceNorm3d, use_group_norm_kernel
from mamba_monai.networks.nets import SegMamba

TINY = {"depths": (1, 1, 1, 1), "feature_size": (8, 16, 16, 32), "hidden_size": 32}


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("channels_last", [False, True])
def test_group_norm_kernel_equals_instance_norm(affine, channels_last):
    ref = nn.InstanceNorm3d(6, affine=affine)
    if affine:
        nn.init.normal_(ref.weight)
        nn.init.normal_(ref.bias)
    fast = nn.Sequential(nn.InstanceNorm3d(6, affine=affine))
    fast[0].load_state_dict(ref.state_dict())
    assert use_group_norm_kernel(fast) == 1 and type(fast[0]) is GroupNormInstanceNorm3d
    assert fast[0].state_dict().keys() == ref.state_dict().keys()
    x = 3 * torch.randn(2, 6, 5, 6, 7) + 1
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y_ref, y_fast = ref(x1), fast(x2)
    torch.testing.assert_close(y_fast, y_ref, atol=1e-5, rtol=1e-5)
    if channels_last:
        assert y_fast.is_contiguous(memory_format=torch.channels_last_3d)
    g = torch.randn_like(y_ref)
    y_ref.backward(g)
    y_fast.backward(g)
    torch.testing.assert_close(x2.grad, x1.grad, atol=1e-4, rtol=1e-4)


def test_running_stats_fall_back_to_instance_norm():
    ref = nn.InstanceNorm3d(4, track_running_stats=True)
    fast = nn.InstanceNorm3d(4, track_running_stats=True)
    use_group_norm_kernel(nn.Sequential(fast))
    x = torch.randn(2, 4, 4, 4, 4)
    torch.testing.assert_close(fast(x), ref(x))
    torch.testing.assert_close(fast.running_mean, ref.running_mean)


def _plain_copy(net: SegMamba) -> SegMamba:
    """The same network without the fast path: contiguous layout, nn.InstanceNorm3d."""
    plain = SegMamba(in_channels=2, out_channels=2, channels_last=False, **TINY)
    plain.load_state_dict(net.state_dict())
    for m in plain.modules():
        if type(m) is GroupNormInstanceNorm3d:
            m.__class__ = nn.InstanceNorm3d
    return plain


def test_segmamba_fast_path_equals_plain_path_float32():
    net = SegMamba(in_channels=2, out_channels=2, **TINY)
    assert any(type(m) is GroupNormInstanceNorm3d for m in net.modules())
    plain = _plain_copy(net)
    x = torch.randn(2, 2, 32, 16, 32)
    out, ref = net(x), plain(x)
    assert out.is_contiguous()
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    out.square().mean().backward()
    ref.square().mean().backward()
    # summation orders differ between the paths; biases right before an instance norm have an analytic gradient of
    # zero (rounding noise on both sides), so compare all gradients together, relative to their scale
    got = torch.cat([p.grad.flatten() for p in net.parameters()])
    want = torch.cat([p.grad.flatten() for p in plain.parameters()])
    assert (got - want).norm() <= 1e-3 * want.norm()
    assert (got - want).abs().max() <= 1e-3 * want.abs().max()


def test_segmamba_fast_path_equals_plain_path_bf16():
    net = SegMamba(in_channels=2, out_channels=2, **TINY).eval()
    plain = _plain_copy(net).eval()
    x = torch.randn(1, 2, 32, 32, 32)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out, ref = net(x).float(), plain(x).float()
    # both are bf16 computations with different rounding orders: compare at bf16's resolution
    assert (out - ref).abs().max() <= 0.05 * ref.abs().max()
    assert ((out > 0) == (ref > 0)).float().mean() >= 0.99


@pytest.mark.parametrize("bias", [False, True])
def test_mixer_channel_first_projections_equal_linear_layers(bias):
    """The mixer's GEMM-written channel-first in_proj / out_proj equal nn.Linear applied to channel-last tokens."""
    import torch.nn.functional as F

    from mamba_monai.networks.blocks.mamba3d import Mamba3DMixer

    mixer = Mamba3DMixer(8, d_state=4, bias=bias)
    if bias:
        nn.init.normal_(mixer.in_proj.bias)
        nn.init.normal_(mixer.out_proj.bias)
    x = torch.randn(2, 4, 6, 5, 8)

    def reference(t):
        xi, z = mixer.in_proj(t).movedim(-1, 1).chunk(2, dim=1)
        xs = mixer.scan_order.flatten(xi)
        b, k, d, n = xs.shape
        xs = mixer.conv1d(xs.reshape(b, k * d, n))[..., :n]
        y = mixer.scan_order.merge(mixer.ssm(F.silu(xs).view(b, k, d, n)), xi.shape[2:]) * F.silu(z)
        return mixer.out_proj(y.movedim(1, -1))

    torch.testing.assert_close(mixer(x), reference(x), atol=1e-5, rtol=1e-5)
