"""Backend choice, fallbacks with one clear warning, and readable errors for bad input."""

from __future__ import annotations

import os
import subprocess
import sys
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


def test_cuda_without_mamba_ssm_falls_back(backend, monkeypatch):
    backend("auto")
    monkeypatch.setattr(backends, "mamba_ssm_unavailable_reason", lambda: "mamba-ssm is not installed")
    monkeypatch.setattr(backends, "triton_unavailable_reason", lambda device: "no triton here: pip install triton")
    monkeypatch.setattr(backends, "_warned", set())
    with pytest.warns(RuntimeWarning, match="mamba-ssm is not installed.*MAMBA_KEEP_CUDA_BUILD=TRUE pip install"):
        assert backends.resolve_backend(torch.device("cuda")) == "chunked"
    backend("mamba_ssm")
    with pytest.raises(RuntimeError, match="mamba-ssm is not installed"):
        backends.resolve_backend(torch.device("cuda"))
    backend("compiled")
    with pytest.raises(RuntimeError, match="runs on CPU only"):
        backends.resolve_backend(torch.device("cuda"))


def cuda_availability(monkeypatch, mamba_ssm: bool, triton: bool) -> None:
    """Pretend mamba-ssm's kernel and Triton do (or do not) import; reset the once-per-reason warnings."""
    mamba_reason = "mamba-ssm's CUDA kernel (module selective_scan_cuda) could not be imported"
    triton_reason = "Triton could not be imported (ImportError); install it with: pip install triton"
    monkeypatch.setattr(backends, "mamba_ssm_unavailable_reason", lambda: None if mamba_ssm else mamba_reason)
    monkeypatch.setattr(backends, "triton_unavailable_reason", lambda device: None if triton else triton_reason)
    monkeypatch.setattr(backends, "_warned", set())


def resolve_with_warnings(device: str) -> tuple[str, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        name = backends.resolve_backend(torch.device(device))
        assert backends.resolve_backend(torch.device(device)) == name
    return name, [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


def test_auto_on_cuda_prefers_mamba_ssm_then_triton_then_chunked(backend, monkeypatch):
    backend("auto")
    cuda_availability(monkeypatch, mamba_ssm=True, triton=True)
    assert resolve_with_warnings("cuda") == ("mamba_ssm", [])
    cuda_availability(monkeypatch, mamba_ssm=False, triton=True)
    name, messages = resolve_with_warnings("cuda")
    assert name == "triton" and len(messages) == 1
    assert "selective_scan_cuda" in messages[0] and backends.MAMBA_SSM_INSTALL in messages[0]
    assert "Triton ('triton')" in messages[0] and "MAMBA_MONAI_SCAN_BACKEND=triton to silence" in messages[0]
    cuda_availability(monkeypatch, mamba_ssm=False, triton=False)
    name, messages = resolve_with_warnings("cuda")
    assert name == "chunked" and len(messages) == 1
    assert backends.MAMBA_SSM_INSTALL in messages[0] and "pip install triton" in messages[0]
    assert "'chunked'" in messages[0]


def test_auto_on_cpu_never_picks_triton(backend, monkeypatch):
    backend("auto")
    cuda_availability(monkeypatch, mamba_ssm=False, triton=True)
    monkeypatch.setattr(backends, "kernel_unavailable_reason", lambda: "no C++ compiler found")
    name, messages = resolve_with_warnings("cpu")
    assert name == "chunked" and len(messages) == 1 and "no C++ compiler found" in messages[0]


def test_triton_forced(backend, monkeypatch):
    backend("triton")
    cuda_availability(monkeypatch, mamba_ssm=True, triton=True)
    assert resolve_with_warnings("cuda") == ("triton", [])
    cuda_availability(monkeypatch, mamba_ssm=True, triton=False)
    with pytest.raises(RuntimeError, match="MAMBA_MONAI_SCAN_BACKEND=triton cannot run on cuda: .*pip install triton"):
        backends.resolve_backend(torch.device("cuda"))


def test_triton_forced_on_cpu_without_interpreter_raises(backend, monkeypatch):
    backend("triton")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(RuntimeError, match="triton cannot run on cpu: .*CUDA tensors.*TRITON_INTERPRET=1"):
        selective_scan_fn(**small())
    with pytest.raises(RuntimeError, match="triton cannot run on mps: .*not on device type 'mps'"):
        backends.resolve_backend(torch.device("mps"))


def test_triton_missing_names_the_install_command(monkeypatch):
    from mamba_monai.ops import triton_scan

    monkeypatch.setitem(sys.modules, "triton", None)  # import triton raises ImportError
    monkeypatch.setattr(triton_scan, "_state", {})
    reason = triton_scan.triton_unavailable_reason(torch.device("cuda"))
    assert reason is not None and "Triton could not be imported (ModuleNotFoundError" in reason
    assert reason.endswith("install it with: pip install triton")


def test_package_works_without_triton():
    """With triton not importable, mamba_monai imports, scans on CPU, and auto on CUDA names both fixes."""
    code = (
        "import sys, warnings, torch; sys.modules['triton'] = None\n"
        "import mamba_monai\n"
        "from mamba_monai.ops import backends, selective_scan_fn, selective_scan_ref\n"
        "backends.mamba_ssm_unavailable_reason = lambda: 'no mamba-ssm'\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    assert backends.resolve_backend(torch.device('cuda')) == 'chunked'\n"
        "assert 'pip install triton' in str(caught[0].message), caught[0].message\n"
        "u = torch.randn(1, 2, 5); dt = torch.rand(1, 2, 5); A = -torch.ones(2, 3); B = torch.randn(1, 3, 5)\n"
        "torch.testing.assert_close(selective_scan_fn(u, dt, A, B, B), selective_scan_ref(u, dt, A, B, B))\n"
        "assert sys.modules['triton'] is None\n"
    )
    env = dict(os.environ, MAMBA_MONAI_SCAN_BACKEND="auto")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


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
        (
            lambda t: with_(t, B=t["B"].expand(2, 3, 4, 10), C=t["C"].expand(2, 3, 4, 10)),
            "not divisible by the 3 groups",
        ),
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
    monkeypatch.setattr(backends, "triton_unavailable_reason", lambda device: None)
    name, why = scan_backend_report(torch.device("cuda"))
    assert name == "triton" and "mamba-ssm is not installed" in why and "MAMBA_KEEP_CUDA_BUILD=TRUE" in why
    monkeypatch.setattr(backends, "triton_unavailable_reason", lambda device: "Triton: pip install triton")
    name, why = scan_backend_report(torch.device("cuda"))
    assert name == "chunked" and "pip install triton" in why
    assert scan_backend_report(torch.device("cpu")) == ("compiled", "")
