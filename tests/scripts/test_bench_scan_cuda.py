"""``scripts/bench_scan.py --device cuda`` on a machine without a GPU: the plan, the clear refusal, and the timing and
table code run end to end with ``torch.cuda`` stood in by the CPU (no figure is asserted: only that every case that can
run is timed, skipped cases say why, and the ratios are computed)."""

from __future__ import annotations

import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import torch

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import bench_scan  # noqa: E402
import bench_scan_cuda  # noqa: E402


def test_dry_run_lists_every_backend_and_mode_without_a_gpu():
    done = subprocess.run([sys.executable, str(SCRIPTS / "bench_scan.py"), "--device", "cuda", "--dry-run",
                           "--shapes", "2d,3d"], capture_output=True, text=True, timeout=120)  # fmt: skip
    cases = [line.split() for line in done.stdout.splitlines()]
    assert done.returncode == 0 and len(cases) == 2 * 4 * 2
    assert {c[1] for c in cases} == {"mamba_ssm", "triton", "chunked", "reference"}


def test_without_a_gpu_it_says_so(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    args = Namespace(dry_run=False, shape_names=["2d"], skip_reference=True)
    assert bench_scan_cuda.run_cuda(args, bench_scan.SHAPES, bench_scan.make_inputs) == 2
    assert "no CUDA device" in capsys.readouterr().out


def test_timing_and_table_run_end_to_end(monkeypatch, capsys):
    for name, value in {"is_available": lambda: True, "synchronize": lambda: None, "memory_allocated": lambda: 0,
                        "reset_peak_memory_stats": lambda: None, "max_memory_allocated": lambda: 3 * 2**20,
                        "get_device_name": lambda: "stand-in"}.items():  # fmt: skip
        monkeypatch.setattr(torch.cuda, name, value)
    monkeypatch.setattr(torch.Tensor, "cuda", lambda self: self)
    monkeypatch.setattr(bench_scan_cuda, "gpu_impls", lambda skip: [("mamba_ssm", "mamba-ssm is not installed"),
                        ("triton", "no Triton here"), ("chunked", None), ("reference", None)])  # fmt: skip
    monkeypatch.setenv("MAMBA_MONAI_SCAN_BACKEND", "chunked")
    shapes = {"tiny": bench_scan.Shape("tiny", 1, 4, 2, 16, 1, "")}
    args = Namespace(dry_run=False, shape_names=["tiny"], skip_reference=False, repeats=2, ref_repeats=1, warmup=1,
                     seed=0)  # fmt: skip
    assert bench_scan_cuda.run_cuda(args, shapes, bench_scan.make_inputs) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum("skipped: mamba-ssm is not installed" in line for line in lines) == 2
    timed = [line.split() for line in lines if line.startswith("tiny") and "skipped" not in line]
    assert [(row[1], row[2]) for row in timed] == [("chunked", "fwd"), ("chunked", "fwdbwd"), ("reference", "fwd"),
                                                   ("reference", "fwdbwd")]  # fmt: skip
    assert all(row[4] == "3.0" for row in timed)  # peak MB
    assert timed[2][5] == "1.0" and float(timed[0][5]) > 0  # ratios to the reference, which is 1.0x itself
