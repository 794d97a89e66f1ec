"""The compiled kernel's own softplus and sigmoid (polynomial approximations, vectorised) against torch in float64,
over the whole float range: with one step, u = B = C = 1 and no D, the scan's output is softplus(delta) itself."""

from __future__ import annotations

import pytest
import torch

from mamba_monai.ops.compiled import kernel_unavailable_reason, load_kernel

pytestmark = pytest.mark.skipif(kernel_unavailable_reason() is not None, reason="no compiled kernel here")


def one_step_outputs(delta: torch.Tensor, z: torch.Tensor | None = None, softplus: bool = True) -> torch.Tensor:
    """out[d] = softplus(delta[d]) (times silu(z[d]) with z) for float32 delta of shape (dim,)."""
    dim = delta.numel()
    u = torch.ones(1, dim, 1)
    A = -torch.ones(dim, 1)
    B = C = torch.ones(1, 1, 1, 1)
    zz = None if z is None else z.reshape(1, dim, 1)
    out, _, _ = load_kernel().fwd(u, delta.reshape(1, dim, 1), A, B, C, None, zz, None, softplus, False, 0)
    return out.reshape(dim)


def test_softplus_over_the_float_range():
    delta = torch.cat([torch.linspace(-87, 87, 20011), torch.tensor([-1e-30, 0.0, 1e-30, 19.999, 20.0, 20.001, 1e4])])
    got = one_step_outputs(delta).double()
    expected = torch.nn.functional.softplus(delta.double())
    relative = ((got - expected).abs() / expected.clamp_min(1e-38)).max().item()
    assert relative < 1e-6, relative
    assert torch.isnan(one_step_outputs(torch.tensor([float("nan"), 1.0])))[0]


def test_the_gate_over_the_float_range():
    z = torch.cat([torch.linspace(-80, 80, 16001), torch.tensor([0.0, -1e-20, 1e-20])])
    delta = torch.full_like(z, 2.0)  # softplus off: out = delta * silu(z)
    got = one_step_outputs(delta, z, softplus=False).double()
    expected = 2.0 * torch.nn.functional.silu(z.double())
    error = ((got - expected).abs() / expected.abs().clamp_min(1e-30)).max().item()
    assert error < 1e-6, error
