"""The compiled CPU kernel against the pure-PyTorch reference: values, gradients, dtypes, long sequences."""

from __future__ import annotations

import itertools

import pytest
import torch

from mamba_monai.ops import selective_scan_fn, selective_scan_ref
from tests.ops.scan_inputs import grads_of, make_inputs, rel_err

OPTIONS = {  # with and without each optional input
    "none": dict(with_D=False, with_z=False, with_bias=False, softplus=False),
    "all": dict(with_D=True, with_z=True, with_bias=True, softplus=True),
    "D": dict(with_D=True, with_z=False, with_bias=False, softplus=False),
    "z": dict(with_D=False, with_z=True, with_bias=False, softplus=False),
    "bias": dict(with_D=False, with_z=False, with_bias=True, softplus=False),
    "softplus": dict(with_D=False, with_z=False, with_bias=False, softplus=True),
}
GRID = list(itertools.product([1, 7, 64, 1000], [1, 16], [1, 4], sorted(OPTIONS)))


@pytest.mark.parametrize("length,dstate,groups,option", GRID)
def test_compiled_matches_reference(backend, length, dstate, groups, option):
    backend("compiled")
    opts = dict(OPTIONS[option])
    softplus = opts.pop("softplus")
    # 20 channels per group: one full and one partial block of 16 lanes
    t = make_inputs(batch=2, dim=20 * groups, length=length, dstate=dstate, groups=groups, softplus=softplus, **opts)
    out, last = selective_scan_fn(**t, delta_softplus=softplus, return_last_state=True)
    ref_out, ref_last = selective_scan_ref(**t, delta_softplus=softplus, return_last_state=True)
    assert out.shape == ref_out.shape and out.dtype == ref_out.dtype
    assert rel_err(out, ref_out) <= 1e-4
    assert rel_err(last, ref_last) <= 1e-4
    grad_out = torch.randn_like(out)
    got, want = grads_of(out, t, grad_out), grads_of(ref_out, t, grad_out)
    for name in want:
        assert got[name].shape == want[name].shape, name
        assert rel_err(got[name], want[name]) <= 1e-4, f"gradient of {name}"


@pytest.mark.parametrize("batch,length", [(0, 30), (2, 0)])
def test_empty_batch_or_sequence(backend, batch, length):
    """No work: the output is empty and the parameters' gradients are zero (the kernel's sums are written by its
    tasks, and there are none), as in the reference."""
    backend("compiled")
    t = make_inputs(batch=batch, dim=20, length=length, dstate=4, groups=1)
    out = selective_scan_fn(**t, delta_softplus=True)
    assert out.shape == (batch, 20, length)
    (out.sum() + sum(v.sum() * 0 for v in t.values())).backward()
    for name in ("A", "D", "delta_bias", "B", "C"):
        assert torch.count_nonzero(t[name].grad) == 0, name


def test_ungrouped_B_C_layout(backend):
    """B, C of shape (batch, dstate, len) as mamba_ssm accepts them."""
    backend("compiled")
    t = make_inputs(dim=24, length=50, grouped_layout=False)
    assert t["B"].dim() == 3
    out = selective_scan_fn(**t, delta_softplus=True)
    ref = selective_scan_ref(**t, delta_softplus=True)
    assert rel_err(out, ref) <= 1e-4
    g = torch.randn_like(out)
    got, want = grads_of(out, t, g), grads_of(ref, t, g)
    assert got["B"].shape == t["B"].shape
    for name in want:
        assert rel_err(got[name], want[name]) <= 1e-4, name


@pytest.mark.parametrize("groups", [1, 2])
def test_gradcheck_float64(backend, groups):
    backend("compiled")
    t = make_inputs(batch=1, dim=3 * groups, length=9, dstate=2, groups=groups, dtype=torch.float64)
    names = list(t)

    def fn(*args):
        return selective_scan_fn(**dict(zip(names, args)), delta_softplus=True)

    assert torch.autograd.gradcheck(fn, tuple(t.values()), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_reference_backend_gradcheck(backend):
    backend("reference")
    t = make_inputs(batch=1, dim=2, length=5, dstate=2, dtype=torch.float64)
    names = list(t)

    def fn(*args):
        return selective_scan_fn(**dict(zip(names, args)), delta_softplus=True)

    assert torch.autograd.gradcheck(fn, tuple(t.values()))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_close_to_float32(backend, dtype):
    backend("compiled")
    t32 = make_inputs(dim=32, length=300, requires_grad=False)
    th = {k: (v.to(dtype).requires_grad_(True) if v is not None else None) for k, v in t32.items()}
    out = selective_scan_fn(**th, delta_softplus=True)
    assert out.dtype == dtype and torch.isfinite(out).all()
    # compare against fp32 computed from the same (rounded) inputs: only accumulation may differ
    rounded = {k: (v.detach().float() if v is not None else None) for k, v in th.items()}
    ref = selective_scan_ref(**rounded, delta_softplus=True)
    tol = 1e-2 if dtype == torch.float16 else 2e-2  # output rounding only
    assert rel_err(out.float(), ref) <= tol
    out.float().pow(2).mean().backward()
    for name, v in th.items():
        if v is not None:
            assert v.grad is not None and v.grad.dtype == dtype and torch.isfinite(v.grad.float()).all(), name


def test_long_sequence_finite(backend):
    """L = 262,144: what SegMamba's first stage sees for a 128^3 patch at half resolution."""
    backend("compiled")
    length = 262_144
    t = make_inputs(batch=1, dim=16, length=length, dstate=16)
    out, last = selective_scan_fn(**t, delta_softplus=True, return_last_state=True)
    assert torch.isfinite(out).all() and torch.isfinite(last).all()
    out.pow(2).mean().backward()
    for name, v in t.items():
        if v is not None:
            assert torch.isfinite(v.grad).all(), name
    # causality: the first steps equal the reference run on that prefix alone
    prefix = {k: (v.detach()[..., :500] if v is not None and v.dim() >= 3 else v) for k, v in t.items()}
    assert rel_err(out.detach()[..., :500], selective_scan_ref(**prefix, delta_softplus=True)) <= 1e-4


def test_large_dt_stays_finite(backend):
    """dt up to ~5 with strongly negative A: exp underflows to 0 instead of producing inf/NaN."""
    backend("compiled")
    t = make_inputs(dim=16, length=200, requires_grad=False)
    t["delta"] = t["delta"].detach() * 0 + 5.0
    t["A"] = t["A"].detach() * 40
    out = selective_scan_fn(**t, delta_softplus=True)
    assert torch.isfinite(out).all()
    assert rel_err(out, selective_scan_ref(**t, delta_softplus=True)) <= 1e-4


def test_last_state_has_no_gradient_path(backend):
    backend("compiled")
    t = make_inputs(dim=16, length=20)
    out, last = selective_scan_fn(**t, delta_softplus=True, return_last_state=True)
    assert out.requires_grad
    assert last.dtype == torch.float32 and not last.requires_grad
