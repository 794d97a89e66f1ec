"""Backend choice, fallbacks with one clear warning, and readable errors for bad input."""

from __future__ import annotations

import warnings

import pytest
import torch

from mamba_monai.ops import backends, selective_scan_fn, selective_scan_ref
from tests.ops.scan_inputs import make_inputs


def small(**kw):
    return make_inputs(batch=2, dim=8, length=10, dstate=4, requires_grad=False, **kw)


def test_auto_uses_compiled_on_cpu(backend):
    backend("auto")
    assert backends.resolve_backend(torch.device("cpu")) == "compiled"


def test_reference_forced(backend):
    backend("reference")
    t = small()
    assert backends.resolve_backend(torch.device("cpu")) == "reference"
    assert torch.equal(selective_scan_fn(**t, delta_softplus=True), selective_scan_ref(**t, delta_softplus=True))


def test_unknown_backend_name(backend):
    backend("fastest")
    with pytest.raises(ValueError, match="MAMBA_MONAI_SCAN_BACKEND='fastest' is not one of"):
        selective_scan_fn(**small())


def test_mamba_ssm_forced_on_cpu_raises(backend):
    backend("mamba_ssm")
    with pytest.raises(RuntimeError, match="needs CUDA tensors"):
        selective_scan_fn(**small())


def test_missing_compiler_falls_back_once_with_warning(backend, monkeypatch):
    backend("auto")
    reason = "the C++ selective-scan kernel could not be built: RuntimeError: no C++ compiler found"
    monkeypatch.setattr(backends, "kernel_unavailable_reason", lambda: reason)
    monkeypatch.setattr(backends, "_warned", set())
    t = small()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = selective_scan_fn(**t, delta_softplus=True)
        selective_scan_fn(**t, delta_softplus=True)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and "no C++ compiler found" in messages[0] and "'chunked'" in messages[0]
    torch.testing.assert_close(out, selective_scan_ref(**t, delta_softplus=True), rtol=1e-4, atol=1e-5)


def test_compiled_forced_without_compiler_raises(backend, monkeypatch):
    backend("compiled")
    monkeypatch.setattr(backends, "kernel_unavailable_reason", lambda: "no C++ compiler found")
    with pytest.raises(RuntimeError, match="compiled, but no C\\+\\+ compiler found"):
        selective_scan_fn(**small())


@pytest.mark.parametrize("has_triton", [True, False])
def test_cuda_without_mamba_ssm_falls_back_to_triton_then_chunked(backend, monkeypatch, has_triton):
    backend("auto")
    monkeypatch.setattr(backends, "mamba_ssm_unavailable_reason", lambda: "mamba-ssm is not installed")
    monkeypatch.setattr(backends, "triton_unavailable_reason", lambda device: None if has_triton else "no Triton")
    monkeypatch.setattr(backends, "_warned", set())
    expected = "triton" if has_triton else "chunked"
    with pytest.warns(RuntimeWarning, match="mamba-ssm is not installed.*MAMBA_KEEP_CUDA_BUILD=TRUE pip install"):
        assert backends.resolve_backend(torch.device("cuda")) == expected
    backend("mamba_ssm")
    with pytest.raises(RuntimeError, match="mamba-ssm is not installed"):
        backends.resolve_backend(torch.device("cuda"))
    backend("compiled")
    with pytest.raises(RuntimeError, match="runs on CPU only"):
        backends.resolve_backend(torch.device("cuda"))


def test_cuda_prefers_mamba_ssm_and_triton_can_be_forced(backend, monkeypatch):
    monkeypatch.setattr(backends, "mamba_ssm_unavailable_reason", lambda: None)
    backend("auto")
    assert backends.resolve_backend(torch.device("cuda")) == "mamba_ssm"
    backend("triton")
    assert backends.resolve_backend(torch.device("cuda")) == "triton"


def test_triton_forced_where_it_cannot_run_raises(backend, monkeypatch):
    backend("triton")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(RuntimeError, match="triton, but Triton kernels need CUDA tensors.*TRITON_INTERPRET=1"):
        selective_scan_fn(**small())
    monkeypatch.setattr(backends.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match="Triton is not installed"):
        backends.resolve_backend(torch.device("cuda"))


def with_(t, **changes):
    t = dict(t)
    t.update(changes)
    return t


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda t: with_(t, u=t["u"][0]), r"u must be \(batch, dim, len\), got shape \(8, 10\)"),
        (lambda t: with_(t, delta=t["delta"][:, :, :9]), r"delta must have u's shape \(2, 8, 10\), got \(2, 8, 9\)"),
        (lambda t: with_(t, A=t["A"][:5]), r"A must be \(dim, dstate\) = \(8, N\), got shape \(5, 4\)"),
        (lambda t: with_(t, B=t["B"][..., :3, :]), r"B of shape \(2, 1, 3, 10\) does not match"),
        (lambda t: with_(t, C=t["C"][:1]), r"C of shape \(1, 1, 4, 10\) does not match"),
        (lambda t: with_(t, B=t["B"][0, 0]), r"B of shape \(4, 10\) is time-invariant"),
        (lambda t: with_(t, B=t["B"].expand(2, 3, 4, 10), C=t["C"].expand(2, 3, 4, 10)), "not divisible by the 3 groups"),
        (lambda t: with_(t, D=torch.ones(7)), r"D must be \(8,\), got shape \(7\)"),
        (lambda t: with_(t, delta_bias=torch.ones(8, 1)), r"delta_bias must be \(8,\), got shape \(8, 1\)"),
        (lambda t: with_(t, z=t["z"][:1]), r"z must have u's shape"),
        (lambda t: with_(t, u=t["u"].long()), "u must be a floating tensor, got dtype torch.int64"),
        (lambda t: with_(t, A=t["A"].to(torch.complex64)), "A is complex"),
        (lambda t: with_(t, D=t["D"].to("meta")), "all inputs must be on one device"),
    ],
)
def test_bad_input_names_argument_and_shape(change, message):
    with pytest.raises(ValueError, match=message):
        selective_scan_fn(**change(small()))


def test_other_devices_fall_back_to_chunked_not_reference(backend, monkeypatch):
    backend("auto")
    monkeypatch.setattr(backends, "_warned", set())
    with pytest.warns(RuntimeWarning, match="no selective-scan kernel for device type 'mps'.*'chunked'"):
        assert backends.resolve_backend(torch.device("mps")) == "chunked"


def test_chunked_can_be_forced_on_cpu(backend):
    backend("chunked")
    t = small()
    out = selective_scan_fn(**t, delta_softplus=True)
    torch.testing.assert_close(out, selective_scan_ref(**t, delta_softplus=True), rtol=1e-4, atol=1e-5)


def test_mamba_ssm_forced_on_cpu_suggests_the_fix(backend):
    backend("mamba_ssm")
    with pytest.raises(RuntimeError, match="unset MAMBA_MONAI_SCAN_BACKEND"):
        selective_scan_fn(**small())


def test_info_report_names_backend_reason_and_fix(backend, monkeypatch):
    from mamba_monai.cli import scan_backend_report

    backend("auto")
    monkeypatch.setattr(backends, "mamba_ssm_unavailable_reason", lambda: "mamba-ssm is not installed")
    monkeypatch.setattr(backends, "triton_unavailable_reason", lambda device: "Triton is not installed")
    name, why = scan_backend_report(torch.device("cuda"))
    assert name == "chunked" and "Triton is not installed" in why and "mamba-ssm is not installed" in why and "MAMBA_KEEP_CUDA_BUILD=TRUE" in why
    assert scan_backend_report(torch.device("cpu")) == ("compiled", "")
