"""SS2D and the 3D Mamba mixer: shapes, parameter counts of the originals, initialisation, scan-order use."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mamba_monai.networks.blocks import (
    SS2D,
    CrossScan2D,
    Mamba3DMixer,
    RasterScan,
    SliceScan2D,
    TriOrientedScan3D,
)
from tests.ops.scan_inputs import rel_err


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_ss2d_parameter_count_matches_vmamba_layout():
    # MedMamba's SS2D at d_model 96: in_proj 96x384, dw conv 192x9 + 192, x_proj 4x38x192, dt_projs 4x192x6 + 4x192,
    # A_logs 768x16, Ds 768, out_norm 2x192, out_proj 192x96
    assert n_params(SS2D(96)) == 36864 + 1920 + 29184 + 4608 + 768 + 12288 + 768 + 384 + 18432


def test_mamba3d_parameter_count_matches_segmamba_layout():
    # SegMamba's Mamba v3 at d_model 48: in_proj 48x192; per branch conv 96x4 + 96, x_proj 35x96, dt_proj 3x96 + 96,
    # A 96x16, D 96; out_proj 96x48
    per_branch = 480 + 3360 + 384 + 1536 + 96
    assert n_params(Mamba3DMixer(48)) == 9216 + 3 * per_branch + 4608


def test_ssm_initialisation():
    m = SS2D(32, d_state=8)
    a = torch.exp(m.ssm.A_logs)
    assert torch.allclose(a, torch.arange(1, 9.0).expand_as(a))
    assert torch.equal(m.ssm.Ds, torch.ones_like(m.ssm.Ds))
    dt = F.softplus(m.ssm.dt_projs_bias)
    assert dt.min() >= 1e-4 - 1e-7 and dt.max() <= 0.1 + 1e-6
    assert m.dt_rank == 2 and m.d_inner == 64 and m.ssm.x_proj_weight.shape == (4, 2 + 16, 64)


@pytest.mark.parametrize("order", [CrossScan2D(), SliceScan2D((2, 4)), SliceScan2D((4, 2))])
def test_ss2d_non_square(order):
    m = SS2D(16, scan_order=order)
    x = torch.randn(2, 8, 12, 16)
    y = m(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.sum().backward()
    assert all(p.grad is not None for p in m.parameters())


def test_ss2d_rejects_channel_first_input():
    with pytest.raises(ValueError, match=r"channel-last input \(batch, H, W, 16\)"):
        SS2D(16)(torch.randn(1, 16, 8, 8))


def test_ss2d_slice_rejects_indivisible_map():
    with pytest.raises(ValueError, match="6"):
        SS2D(8, scan_order=SliceScan2D((4, 4)))(torch.randn(1, 6, 8, 8))


def test_mamba3d_non_cubic():
    m = Mamba3DMixer(16)
    x = torch.randn(1, 3, 5, 4, 16)
    y = m(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_backends_agree_inside_mixers(backend):
    ss2d, m3d = SS2D(16), Mamba3DMixer(16)
    x2, x3 = torch.randn(1, 6, 10, 16), torch.randn(1, 3, 4, 5, 16)
    backend("compiled")
    out2, out3 = ss2d(x2), m3d(x3)
    backend("reference")
    assert rel_err(out2, ss2d(x2)) <= 1e-4
    assert rel_err(out3, m3d(x3)) <= 1e-4


def input_gradient(mixer, x, out_index):
    x = x.clone().requires_grad_(True)
    mixer(x)[out_index].sum().backward()
    return x.grad


def test_raster_order_is_causal_and_tri_oriented_is_global():
    """The order really drives the mixer: one forward raster scan cannot see later voxels, tri-oriented can."""
    x = torch.randn(1, 2, 3, 4, 8)
    first_voxel = (0, 0, 0, 0)
    causal = input_gradient(Mamba3DMixer(8, scan_order=RasterScan(3)), x, first_voxel)
    assert causal[0, 0, 0, 0].abs().sum() > 0
    assert causal.flatten(1, 3)[0, 1:].abs().sum() == 0
    tri = input_gradient(Mamba3DMixer(8, scan_order=TriOrientedScan3D()), x, first_voxel)
    assert (tri.flatten(1, 3)[0].abs().sum(-1) > 0).all()


def test_cross_scan_transpose_equivariance():
    """Transposing the map swaps cross-scan directions (0<->1, 2<->3): with swapped direction weights the output
    is the transposed output. Fails if any direction is flattened or restored in the wrong order."""
    torch.manual_seed(1)
    m = SS2D(8, d_conv=1)  # 1x1 depthwise conv commutes with transposition
    swapped = SS2D(8, d_conv=1)
    swapped.load_state_dict(m.state_dict())
    perm = [1, 0, 3, 2]
    with torch.no_grad():
        ssm, sw = m.ssm, swapped.ssm
        sw.x_proj_weight.copy_(ssm.x_proj_weight[perm])
        sw.dt_projs_weight.copy_(ssm.dt_projs_weight[perm])
        sw.dt_projs_bias.copy_(ssm.dt_projs_bias[perm])
        k, d = ssm.num_directions, ssm.d_inner
        sw.A_logs.copy_(ssm.A_logs.view(k, d, -1)[perm].reshape(k * d, -1))
        sw.Ds.copy_(ssm.Ds.view(k, d)[perm].reshape(-1))
    x = torch.randn(1, 5, 7, 8)
    assert rel_err(swapped(x.transpose(1, 2)), m(x).transpose(1, 2)) <= 1e-5
