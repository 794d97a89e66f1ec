"""The Triton backend against the pure-PyTorch reference: values, last state, every gradient, dtypes, NaN.

With a GPU these tests run on CUDA tensors. Without one the kernels run in Triton's interpreter, which must be chosen
before triton is first imported (``torch._dynamo`` imports it): ``test_triton_interpreter.py`` runs this file in a
child process with ``TRITON_INTERPRET=1`` (or: ``TRITON_INTERPRET=1 pytest tests/ops/test_triton_scan.py``); in a
process without it the kernel tests skip. The interpreter scans tiles element by element in Python: the shapes are
tiny, and the kernels' chunk is shortened to 16 steps (the default is 64) so that 37 steps cover three chunks, the last
one partial. One case keeps the default chunk.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mamba_monai.ops import selective_scan_fn, selective_scan_ref, triton_scan
from tests.ops.scan_inputs import grads_of, make_inputs, rel_err
from tests.ops.test_selective_scan import OPTIONS


@pytest.fixture
def device(backend, monkeypatch):
    """Where the Triton kernels run here (CUDA, else CPU in the interpreter), with the ``triton`` backend forced."""
    backend("triton")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if triton_scan.triton_unavailable_reason(torch.device("cpu")) is not None:
        pytest.skip("no GPU and no Triton interpreter here; test_triton_interpreter.py runs this in a child process")
    monkeypatch.setattr(triton_scan, "CHUNK", 16)  # the interpreter is slow: short tiles
    return torch.device("cpu")


def on(t: dict, device: torch.device, dtype: torch.dtype | None = None) -> dict:
    """The inputs as new leaf tensors on ``device`` (and in ``dtype``), requiring gradients."""
    return {
        k: (v.detach().to(device=device, dtype=dtype or v.dtype).requires_grad_(True) if v is not None else None)
        for k, v in t.items()
    }


def check_against_reference(t: dict, softplus: bool, tol: float = 1e-4) -> None:
    out, last = selective_scan_fn(**t, delta_softplus=softplus, return_last_state=True)
    ref_out, ref_last = selective_scan_ref(**t, delta_softplus=softplus, return_last_state=True)
    assert out.shape == ref_out.shape and out.dtype == ref_out.dtype
    assert last.dtype == ref_last.dtype and not last.requires_grad
    assert rel_err(out, ref_out) <= tol
    assert rel_err(last, ref_last) <= tol
    grad_out = torch.randn_like(out)
    got, want = grads_of(out, t, grad_out), grads_of(ref_out, t, grad_out)
    for name in want:
        assert got[name].shape == want[name].shape and got[name].dtype == want[name].dtype, name
        assert rel_err(got[name], want[name]) <= tol, f"gradient of {name}: {rel_err(got[name], want[name]):.2e}"


GRID = list(itertools.product([37], [1, 16], [1, 4], ["all", "none"])) + [
    (37, 4, 2, option) for option in ("D", "z", "bias", "softplus")
]


@pytest.mark.parametrize("length,dstate,groups,option", GRID)
def test_triton_matches_reference(device, length, dstate, groups, option):
    opts = dict(OPTIONS[option])
    softplus = opts.pop("softplus")
    # two channels per group: channels of one group add into the same gradients of B and C
    t = make_inputs(batch=2, dim=2 * groups, length=length, dstate=dstate, groups=groups, softplus=softplus, **opts)
    check_against_reference(on(t, device), softplus)


def test_default_chunk_and_ungrouped_layout(device, monkeypatch):
    """100 steps at the default chunk of 64: one full and one partial chunk; B, C given as (batch, dstate, len)."""
    monkeypatch.setattr(triton_scan, "CHUNK", 64)
    t = make_inputs(batch=1, dim=2, length=100, dstate=4, grouped_layout=False)
    assert t["B"].dim() == 3
    check_against_reference(on(t, device), softplus=True)


def test_float64_accumulates_in_float64(device):
    t = make_inputs(batch=1, dim=4, length=37, dstate=4, groups=2, dtype=torch.float64)
    check_against_reference(on(t, device), softplus=True, tol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_accumulates_in_float32(device, dtype):
    t = on(make_inputs(batch=1, dim=4, length=37, dstate=4, groups=2), device, dtype)
    out, last = selective_scan_fn(**t, delta_softplus=True, return_last_state=True)
    assert out.dtype == dtype and last.dtype == torch.float32
    # against float32 from the same (rounded) inputs: only the rounding of the outputs may differ
    rounded = on(t, device, torch.float32)
    ref, ref_last = selective_scan_ref(**rounded, delta_softplus=True, return_last_state=True)
    tol = 1e-2 if dtype == torch.float16 else 2e-2
    assert rel_err(out.float(), ref) <= tol
    assert rel_err(last, ref_last) <= 1e-5  # the last state is not rounded
    grad_out = torch.randn_like(ref)
    got, want = grads_of(out, t, grad_out.to(dtype)), grads_of(ref, rounded, grad_out.to(dtype).float())
    for name in want:
        assert got[name].dtype == dtype, name
        assert rel_err(got[name].float(), want[name]) <= tol, f"gradient of {name}"


@pytest.mark.parametrize("softplus", [True, False])
def test_nan_delta_propagates_like_the_reference(device, softplus):
    t = on(make_inputs(batch=1, dim=2, length=37, dstate=4, softplus=softplus), device)
    with torch.no_grad():
        t["delta"][0, 1, 7] = float("nan")
    out = selective_scan_fn(**t, delta_softplus=softplus)
    ref = selective_scan_ref(**t, delta_softplus=softplus)
    assert torch.isnan(ref[0, 1, 7:]).all()
    assert torch.equal(torch.isnan(out), torch.isnan(ref))
    out.sum().backward()
    assert torch.isnan(t["delta"].grad[0, 1]).any()  # not silently finite
    assert torch.isfinite(t["delta"].grad[0, 0]).all()  # the other channel is untouched


def test_opcheck(device):
    """Schema, fake implementation (the saved states' shape) and autograd registration agree for 'triton'."""
    t = on(make_inputs(batch=1, dim=2, length=20, dstate=2, groups=2), device)
    args = (t["u"], t["delta"], t["A"], t["B"], t["C"], t["D"], t["z"], t["delta_bias"], True, "triton")
    torch.library.opcheck(torch.ops.mamba_monai.selective_scan_fwd.default, args)


def test_tiny_time_steps_keep_their_precision(device):
    """softplus(-12) ~ 6e-6: log(1 + exp(x)) computed naively would be off by ~1%; torch's softplus is not."""
    t = make_inputs(batch=1, dim=2, length=37, dstate=1, with_bias=False)
    t["delta"] = torch.full_like(t["delta"], -12.0).requires_grad_(True)
    check_against_reference(on(t, device), softplus=True)


def compile_for_gpu(arch: int) -> subprocess.CompletedProcess:
    pytest.importorskip("triton", reason="Triton is not installed")
    script = Path(__file__).with_name("triton_gpu_compile.py")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, str(script), str(arch)], capture_output=True, text=True, env=env, timeout=600
    )


@pytest.mark.parametrize("arch", [70, 80])  # 70: the oldest GPU the kernels accept (triton_scan.MIN_CUDA_CAPABILITY)
def test_kernels_compile_for_a_gpu(arch):
    """Triton's compiler takes both kernels, in every dtype variant, down to a cubin (no GPU needed)."""
    proc = compile_for_gpu(arch)
    if proc.returncode != 0 and "ptxas" in proc.stderr and "not found" in proc.stderr.lower():
        pytest.skip("Triton's NVIDIA backend has no ptxas here")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count(" ok") == 8


def test_an_older_gpu_is_refused_by_name_and_the_scan_falls_back(monkeypatch):
    """Below compute capability 7.0 ptxas rejects the backward's atomics: the backend says so before any launch."""
    pytest.importorskip("triton", reason="Triton is not installed")
    from mamba_monai.ops import backends, triton_scan

    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla P100")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (6, 0))
    reason = triton_scan.triton_unavailable_reason(torch.device("cuda"))
    assert reason is not None and "compute capability 7.0 or newer; Tesla P100 is 6.0" in reason
    monkeypatch.setenv(backends.BACKEND_ENV, "triton")
    with pytest.raises(RuntimeError, match="Tesla P100 is 6.0"):
        backends.resolve_backend(torch.device("cuda"))
    monkeypatch.setenv(backends.BACKEND_ENV, "auto")  # without mamba-ssm (as here): the portable scan, said aloud
    with pytest.warns(RuntimeWarning, match="Tesla P100 is 6.0"):
        assert backends.resolve_backend(torch.device("cuda")) == "chunked"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 0))
    assert triton_scan.triton_unavailable_reason(torch.device("cuda")) is None


def test_raw_op_rejects_non_contiguous():
    """The kernels index flat memory; the raw op refuses a strided tensor instead of reading the wrong elements."""
    t = make_inputs(batch=1, dim=2, length=12, dstate=2, requires_grad=False)
    u = t["u"].transpose(1, 2).contiguous().transpose(1, 2)
    assert not u.is_contiguous()
    with pytest.raises(RuntimeError, match="triton.*u must be contiguous"):
        torch.ops.mamba_monai.selective_scan_fwd(
            u, t["delta"], t["A"], t["B"], t["C"], None, None, None, False, "triton"
        )


@pytest.mark.parametrize("dt,a_scale", [(5.0, 40.0), (10.0, 1000.0)])
def test_large_time_steps_stay_finite(device, dt, a_scale):
    """dt * A down to -1e4: the decays underflow to 0, nothing overflows, and values and gradients match."""
    t = make_inputs(batch=1, dim=2, length=37, dstate=4, softplus=False, with_bias=False)
    t["delta"] = torch.full_like(t["delta"], dt).requires_grad_(True)
    t["A"] = (t["A"].detach() * a_scale).requires_grad_(True)
    assert (t["delta"].max() * t["A"].min()).item() < -100
    t = on(t, device)
    out = selective_scan_fn(**t)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert all(torch.isfinite(v.grad).all() for v in t.values() if v is not None)
    for v in t.values():
        if v is not None:
            v.grad = None
    check_against_reference(t, softplus=False)


def test_mixed_dtypes_bf16_activations_fp32_parameters(device):
    """As under autocast: u, delta, B, C, z in bf16, A, D, delta_bias in fp32; gradients come back in each dtype."""
    t = on(make_inputs(batch=1, dim=4, length=37, dstate=4, groups=2), device)
    with torch.no_grad():
        for name in ("u", "delta", "B", "C", "z"):
            t[name] = t[name].to(torch.bfloat16).requires_grad_(True)
    out = selective_scan_fn(**t, delta_softplus=True)
    assert out.dtype == torch.bfloat16
    ref = selective_scan_ref(**on(t, device, torch.float32), delta_softplus=True)
    assert rel_err(out.float(), ref) <= 2e-2
    out.float().pow(2).sum().backward()
    for name, v in t.items():
        assert v.grad is not None and v.grad.dtype == v.dtype and torch.isfinite(v.grad.float()).all(), name
