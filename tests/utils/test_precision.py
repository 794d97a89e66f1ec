"""Mixed precision chosen by capability: detection, the off switch, and the settings per device."""

from __future__ import annotations

import pytest
import torch

from mamba_monai.utils import precision


@pytest.fixture
def fresh_detection():
    precision.cpu_bf16_native.cache_clear()
    yield
    precision.cpu_bf16_native.cache_clear()


def test_detection_agrees_with_proc_cpuinfo(fresh_detection):
    flags = precision._flags_from_proc_cpuinfo()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags on this machine")
    expected = any(f in flags for f in precision._BF16_CPUINFO_FLAGS)
    assert precision.cpu_bf16_native() == expected


@pytest.mark.parametrize(
    "flags_line, native",
    [
        ("flags : fpu sse2 avx2 avx512f avx512_bf16 amx_tile", True),
        ("flags : fpu sse2 avx2 amx_bf16", True),
        ("Features : fp asimd sve svebf16", True),
        ("flags : fpu sse2 avx2 avx512f avx512_vnni", False),
    ],
)
def test_fallback_reads_cpuinfo_flags(tmp_path, monkeypatch, fresh_detection, flags_line, native):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor : 0\n{flags_line}\n")
    monkeypatch.setattr(precision, "_capabilities_from_torch", lambda: None)
    original = precision._flags_from_proc_cpuinfo
    monkeypatch.setattr(precision, "_flags_from_proc_cpuinfo", lambda: original(str(cpuinfo)))
    assert precision.cpu_bf16_native() is native


@pytest.mark.parametrize("native", [True, False])
def test_cpu_settings_follow_capability(monkeypatch, native):
    monkeypatch.delenv(precision.AMP_ENV_VAR, raising=False)
    monkeypatch.setattr(precision, "cpu_bf16_native", lambda: native)
    s = precision.autocast_settings("cpu")
    assert s["enabled"] is native
    assert s["dtype"] == (torch.bfloat16 if native else torch.float32)
    assert precision.engine_amp("cpu") is False  # MONAI's CUDA-only autocast/GradScaler never on CPU


def test_cuda_settings_and_engine_amp(monkeypatch):
    monkeypatch.delenv(precision.AMP_ENV_VAR, raising=False)
    s = precision.autocast_settings("cuda")
    assert s == {"device_type": "cuda", "dtype": torch.float16, "enabled": True}
    assert precision.engine_amp("cuda:0") is True
    assert precision.engine_amp("cuda:0", False) is False


@pytest.mark.parametrize("switch", [False, "false", "0", "off"])
def test_bundle_switch_turns_it_off(monkeypatch, switch):
    monkeypatch.setattr(precision, "cpu_bf16_native", lambda: True)
    assert precision.autocast_settings("cpu", switch)["enabled"] is False
    assert precision.autocast_settings("cuda", switch)["enabled"] is False


@pytest.mark.parametrize("value", ["0", "false", "OFF", "no"])
def test_env_var_turns_it_off(monkeypatch, value):
    monkeypatch.setattr(precision, "cpu_bf16_native", lambda: True)
    monkeypatch.setenv(precision.AMP_ENV_VAR, value)
    assert precision.autocast_settings("cpu", True)["enabled"] is False
    assert precision.engine_amp("cuda", True) is False
    assert isinstance(precision.autocast_context("cpu"), type(precision.contextlib.nullcontext()))


def test_bad_values_are_named(monkeypatch):
    monkeypatch.setenv(precision.AMP_ENV_VAR, "maybe")
    with pytest.raises(ValueError, match="MAMBA_MONAI_AMP"):
        precision.autocast_settings("cpu")
    monkeypatch.delenv(precision.AMP_ENV_VAR)
    with pytest.raises(ValueError, match="'amp'"):
        precision.autocast_settings("cpu", "sometimes")


def test_autocast_context_runs_matmul_in_bf16(monkeypatch):
    monkeypatch.delenv(precision.AMP_ENV_VAR, raising=False)
    monkeypatch.setattr(precision, "cpu_bf16_native", lambda: True)
    a = torch.randn(8, 8)
    with precision.autocast_context("cpu"):
        assert (a @ a).dtype == torch.bfloat16
    monkeypatch.setattr(precision, "cpu_bf16_native", lambda: False)
    with precision.autocast_context("cpu"):
        assert (a @ a).dtype == torch.float32
