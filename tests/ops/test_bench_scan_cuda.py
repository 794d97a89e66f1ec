"""``scripts/bench_scan.py --device cuda`` without a GPU: arguments, which backends it plans to time, the agreement
check and the table (the timing itself needs a GPU)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import bench_scan  # noqa: E402
import bench_scan_cuda  # noqa: E402

from mamba_monai.ops import cuda as cuda_backend  # noqa: E402
from mamba_monai.ops import triton_scan  # noqa: E402


def test_cuda_arguments():
    args = bench_scan.parse_args(["--device", "cuda", "--shapes", "2d,3d", "--skip-reference"])
    assert args.device == "cuda" and args.cuda_device == "cuda" and args.shape_names == ["2d", "3d"]
    assert bench_scan.parse_args([]).device == "cpu"
    with pytest.raises(SystemExit):
        bench_scan.parse_args(["--device", "mps"])


@pytest.mark.parametrize("mamba_ssm", [True, False])
@pytest.mark.parametrize("triton", [True, False])
def test_plan_times_every_backend_that_runs(monkeypatch, mamba_ssm, triton):
    monkeypatch.setattr(cuda_backend, "mamba_ssm_unavailable_reason", lambda: None if mamba_ssm else "no mamba-ssm")
    monkeypatch.setattr(triton_scan, "triton_unavailable_reason", lambda device: None if triton else "no triton")
    impls, left_out = bench_scan_cuda.available_impls(torch.device("cuda"), skip_reference=False)
    expected = [name for name, runs in (("mamba_ssm", mamba_ssm), ("triton", triton)) if runs] + [
        "chunked",
        "reference",
    ]
    assert impls == expected
    assert set(left_out) == {"mamba_ssm", "triton"} - set(impls)
    plan = bench_scan_cuda.build_plan(["2d", "3d"], impls)
    assert len(plan) == 2 * len(impls) * 2 and len(set(plan)) == len(plan)
    assert {mode for _, _, mode in plan} == {"fwd", "fwdbwd"} and {s for s, _, _ in plan} == {"2d", "3d"}
    impls, left_out = bench_scan_cuda.available_impls(torch.device("cuda"), skip_reference=True)
    assert "reference" not in impls and left_out["reference"] == "--skip-reference"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is visible")
def test_no_gpu_is_a_clear_error(capsys):
    assert bench_scan.main(["--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_agreement_check_runs_the_backends(backend):
    """The calls and the error measure of the agreement check (device-agnostic: run here on CPU)."""
    shape = bench_scan.Shape("tiny", 1, 4, 4, 50, 2, "")
    inputs = {k: v.detach().requires_grad_(True) for k, v in bench_scan.make_inputs(shape, False).items()}
    backend("auto")
    want = bench_scan_cuda.results_of("reference", inputs)
    got = bench_scan_cuda.results_of("chunked", inputs)
    assert set(want) == {"out", "du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddelta_bias"}
    assert bench_scan_cuda.largest_rel_err(got, want) < 1e-4
    got["dA"] = got["dA"] * 1.01
    assert bench_scan_cuda.largest_rel_err(got, want) == pytest.approx(0.01, rel=0.05)


def test_table_ratios_and_failures(capsys):
    def case(seconds):
        return {"median_s": seconds, "times_s": [seconds], "peak_extra_mb": 10.0}

    report = {
        "machine": {"gpu": "test", "torch": "x", "cuda": "y", "not_timed": {"reference": "--skip-reference"}},
        "impls": ["mamba_ssm", "triton", "chunked"],
        "results": {
            "2d": {
                "mamba_ssm": {"fwd": case(0.002), "fwdbwd": {"error": "RuntimeError: boom"}},
                "triton": {"fwd": case(0.004), "fwdbwd": case(0.01), "rel_err": {"against": "chunked", "value": 3e-6}},
                "chunked": {"fwd": case(0.1), "fwdbwd": case(0.3)},
            }
        },
    }
    bench_scan_cuda.print_cuda_table(report)
    lines = capsys.readouterr().out.splitlines()
    triton_fwd = next(line for line in lines if line.split()[:2] == ["triton", "fwd"])
    assert "2.00x" in triton_fwd  # 4 ms against mamba_ssm's 2 ms
    triton_bwd = next(line for line in lines if line.split()[:2] == ["triton", "fwdbwd"])
    assert "3.0e-06 (chu)" in triton_bwd
    assert any("mamba_ssm" in line and "failed: RuntimeError: boom" in line for line in lines)
    assert any("not timed: reference (--skip-reference)" in line for line in lines)


def test_whole_run_with_cuda_calls_stubbed(monkeypatch, capsys):
    """The orchestration of a --device cuda run, on CPU tensors: torch.cuda's synchronisation and memory counters are
    replaced by no-ops (so memory reads 0), the shape is tiny; a backend that raises (triton on CPU) is reported, not
    fatal."""
    for name in ("synchronize", "reset_peak_memory_stats", "empty_cache", "set_device"):
        monkeypatch.setattr(torch.cuda, name, lambda *a, **k: None)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda *a, **k: 0)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda *a, **k: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: "stub")
    monkeypatch.setitem(bench_scan_cuda.SHAPES, "tiny", bench_scan.Shape("tiny", 1, 4, 4, 40, 2, "tiny"))
    monkeypatch.setattr(
        bench_scan_cuda,
        "available_impls",
        lambda device, skip: (["triton", "chunked", "reference"], {"mamba_ssm": "x"}),
    )
    args = bench_scan.parse_args(
        ["--device", "cuda", "--shapes", "2d", "--repeats", "2", "--warmup", "1", "--ref-repeats", "1"]
    )
    args.shape_names, args.cuda_device = ["tiny"], "cpu"
    report = bench_scan_cuda.run_cuda_benchmark(args)
    tiny = report["results"]["tiny"]
    # triton cannot run on CPU tensors outside the interpreter: both its cases end in the backend's error
    for mode in ("fwd", "fwdbwd"):
        assert "triton cannot run on cpu" in tiny["triton"][mode]["error"]
    for impl, repeats in (("chunked", 2), ("reference", 1)):
        for mode in ("fwd", "fwdbwd"):
            assert len(tiny[impl][mode]["times_s"]) == repeats and tiny[impl][mode]["median_s"] > 0
    assert "rel_err" not in tiny["reference"]  # the reference is the baseline
    assert tiny["chunked"]["rel_err"]["against"] == "reference" and tiny["chunked"]["rel_err"]["value"] < 1e-4
    bench_scan_cuda.print_cuda_table(report)
    assert "failed: RuntimeError: MAMBA_MONAI_SCAN_BACKEND=triton cannot run" in capsys.readouterr().out
