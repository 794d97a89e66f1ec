"""The chunked backend equals the reference (values, last state, every gradient) and stays finite where earlier
chunked scans overflowed."""

from __future__ import annotations

import pytest
import torch

from mamba_monai.ops.chunked import default_chunk, selective_scan_chunked
from mamba_monai.ops.reference import selective_scan_ref
from tests.ops.scan_inputs import make_inputs

NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


@pytest.mark.parametrize("length, chunk", [(37, None), (37, 1), (37, 5), (37, 64), (64, 8), (1, None)])
@pytest.mark.parametrize("groups, dstate", [(1, 1), (1, 16), (4, 16)])
def test_values_state_and_gradients_equal_the_reference(length, chunk, groups, dstate):
    t = make_inputs(batch=2, dim=8, length=length, dstate=dstate, groups=groups, dtype=torch.float64)
    ref_out, ref_state = selective_scan_ref(**t, delta_softplus=True, return_last_state=True)
    out, state = selective_scan_chunked(**t, delta_softplus=True, return_last_state=True, chunk=chunk)
    torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(state, ref_state, rtol=1e-10, atol=1e-12)
    inputs = [t[name] for name in NAMES]
    ref_grads = torch.autograd.grad((ref_out * torch.cos(ref_out)).sum(), inputs)
    grads = torch.autograd.grad((out * torch.cos(out)).sum(), inputs)
    for name, g, r in zip(NAMES, grads, ref_grads):
        torch.testing.assert_close(g, r, rtol=1e-8, atol=1e-10, msg=lambda m, name=name: f"d{name}: {m}")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_accumulate_in_float32(dtype):
    t = make_inputs(batch=1, dim=8, length=200, dstate=4, dtype=dtype, requires_grad=False)
    out = selective_scan_chunked(**t, delta_softplus=True)
    ref = selective_scan_ref(**t, delta_softplus=True)
    assert out.dtype == dtype
    torch.testing.assert_close(out.float(), ref.float(), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("chunk", [8, 64, 512])
@pytest.mark.parametrize("scale", [1.0, 50.0, 1e4])
def test_large_steps_and_decays_stay_finite(chunk, scale):
    """dt * A down to -1e4 and dt of 1 and more: decays underflow to 0, nothing overflows."""
    g = torch.Generator().manual_seed(0)
    u, C = torch.randn(1, 4, 1024, generator=g), torch.randn(1, 2, 1024, generator=g)
    B = torch.randn(1, 2, 1024, generator=g)
    delta = torch.rand(1, 4, 1024, generator=g) * scale
    A = -torch.rand(4, 2, generator=g) - 1.0
    out, state = selective_scan_chunked(u, delta, A, B, C, return_last_state=True, chunk=chunk)
    ref, ref_state = selective_scan_ref(u, delta, A, B, C, return_last_state=True)
    assert torch.isfinite(out).all() and torch.isfinite(state).all()
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_long_sequence_stays_finite():
    g = torch.Generator().manual_seed(1)
    length = 262_144
    u, B, C = (torch.randn(1, 2, length, generator=g) for _ in range(3))
    out = selective_scan_chunked(u, torch.randn(1, 2, length, generator=g), -torch.ones(2, 1), B[:, :1], C[:, :1],
                                 delta_softplus=True)  # fmt: skip
    assert torch.isfinite(out).all()


def test_nan_delta_propagates_as_in_the_reference():
    t = make_inputs(batch=1, dim=4, length=16, dstate=2, requires_grad=False)
    t["delta"][0, 1, 5] = float("nan")
    out = selective_scan_chunked(**t, delta_softplus=True, chunk=4)
    ref = selective_scan_ref(**t, delta_softplus=True)
    assert torch.equal(torch.isnan(out), torch.isnan(ref)) and torch.isnan(out[0, 1, 5:]).all()


def test_default_chunk_balances_the_sequential_steps():
    assert default_chunk(3136) == 40 and default_chunk(1) == 1 and default_chunk(2) == 1
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        selective_scan_chunked(*[torch.zeros(1, 1, 4)] * 2, -torch.ones(1, 1), torch.zeros(1, 1, 4),
                               torch.zeros(1, 1, 4), chunk=0)  # fmt: skip
