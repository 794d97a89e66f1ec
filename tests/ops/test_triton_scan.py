"""The ``triton`` backend on CPU tensors, through Triton's interpreter (``TRITON_INTERPRET=1``): values, last state and
every gradient against the reference, over L not a multiple of the block, two chunks, G in {1, 4}, N in {1, 16},
with and without D / z / delta_bias / softplus, fp16 / bf16 inputs, NaN propagation. The same kernels compile for
CUDA tensors on a GPU. The interpreter runs each program step by step in Python, so the shapes are tiny."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import pytest
import torch

if importlib.util.find_spec("triton") is None:
    pytest.skip("Triton is not installed (PyTorch's CUDA wheels include it)", allow_module_level=True)

_previous = os.environ.get("TRITON_INTERPRET")
os.environ["TRITON_INTERPRET"] = "1"  # read when the kernels are decorated, i.e. when their module is imported
if "mamba_monai.ops.triton_scan" in sys.modules:
    importlib.reload(sys.modules["mamba_monai.ops.triton_scan"])
else:
    importlib.import_module("mamba_monai.ops.triton_scan")
if _previous is None:
    del os.environ["TRITON_INTERPRET"]
else:
    os.environ["TRITON_INTERPRET"] = _previous

from mamba_monai.ops import selective_scan_fn, selective_scan_ref  # noqa: E402
from mamba_monai.ops.triton_scan import block_channels  # noqa: E402
from tests.ops.scan_inputs import grads_of, make_inputs  # noqa: E402


@pytest.fixture
def triton_backend(backend, monkeypatch):
    backend("triton")
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # lets the backend choice accept CPU tensors


def _compare(tensors, softplus=True, atol=1e-9):
    out, last = selective_scan_fn(**tensors, delta_softplus=softplus, return_last_state=True)
    ref, ref_last = selective_scan_ref(**tensors, delta_softplus=softplus, return_last_state=True)
    torch.testing.assert_close(out, ref, rtol=0, atol=atol)
    torch.testing.assert_close(last, ref_last, rtol=0, atol=atol)
    grad_out = torch.randn_like(ref)
    ours, theirs = grads_of(out, tensors, grad_out), grads_of(ref, tensors, grad_out)
    assert ours.keys() == theirs.keys()
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], rtol=0, atol=atol, msg=lambda m, n=name: f"d{n}: {m}")


@pytest.mark.parametrize("groups", [1, 4])
@pytest.mark.parametrize("dstate", [1, 16])
def test_values_state_and_gradients_equal_the_reference(triton_backend, groups, dstate):
    _compare(make_inputs(batch=1, dim=8, length=37, dstate=dstate, groups=groups, dtype=torch.float64))


def test_two_chunks_and_a_partial_one(triton_backend, monkeypatch):
    from mamba_monai.ops import triton_scan

    calls = []
    for name in ("triton_scan_fwd", "triton_scan_bwd"):
        kernel = getattr(triton_scan, name)
        monkeypatch.setattr(triton_scan, name, lambda *a, _k=kernel, _n=name: calls.append(_n) or _k(*a))
    _compare(make_inputs(batch=2, dim=4, length=70, dstate=4, dtype=torch.float64))
    assert calls.count("triton_scan_fwd") == 1 and calls.count("triton_scan_bwd") == 1, calls


def test_without_optional_inputs_and_ungrouped_layout(triton_backend):
    tensors = make_inputs(batch=1, dim=4, length=20, dstate=3, grouped_layout=False, with_D=False, with_z=False,
                          with_bias=False, softplus=False, dtype=torch.float64)  # fmt: skip
    _compare(tensors, softplus=False)


def test_float32_matches_to_float32_precision(triton_backend):
    _compare(make_inputs(batch=1, dim=4, length=30, dstate=8), atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_accumulate_in_float32(triton_backend, dtype):
    tensors = make_inputs(batch=1, dim=4, length=24, dstate=4, dtype=dtype, requires_grad=False)
    out, last = selective_scan_fn(**tensors, delta_softplus=True, return_last_state=True)
    ref, ref_last = selective_scan_ref(**tensors, delta_softplus=True, return_last_state=True)
    assert out.dtype == dtype and last.dtype == torch.float32
    torch.testing.assert_close(last, ref_last, rtol=1e-4, atol=1e-4)  # both accumulate in float32
    torch.testing.assert_close(out.float(), ref.float(), rtol=2e-2, atol=2e-2)  # rounding of the output only


def test_nan_delta_propagates_as_in_the_reference(triton_backend):
    tensors = make_inputs(batch=1, dim=4, length=12, dstate=4, requires_grad=False)
    tensors["delta"][0, 1, 5] = float("nan")
    out = selective_scan_fn(**tensors, delta_softplus=True)
    ref = selective_scan_ref(**tensors, delta_softplus=True)
    assert torch.equal(torch.isnan(out), torch.isnan(ref)) and torch.isnan(out[0, 1, 5:]).all()
    assert not torch.isnan(out[0, 0]).any()


def test_a_program_s_channels_share_one_group():
    assert [block_channels(n) for n in (1, 2, 3, 6, 48, 96, 192)] == [1, 2, 1, 2, 16, 16, 16]
