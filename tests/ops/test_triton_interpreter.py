"""Runs ``test_triton_scan.py`` in a child process with ``TRITON_INTERPRET=1``: without a GPU, the only way to run the
Triton kernels in this test session (the interpreter must be chosen before triton is first imported, and
``torch._dynamo`` imports it early; setting it for the whole session would also change Triton for everything else)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mamba_monai.ops import triton_scan

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(torch.cuda.is_available(), reason="with a GPU, test_triton_scan.py runs on CUDA tensors")
def test_triton_kernels_in_the_interpreter():
    pytest.importorskip("triton", reason="Triton is not installed")
    if os.environ.get("TRITON_INTERPRET") == "1" and triton_scan.triton_unavailable_reason(torch.device("cpu")) is None:
        pytest.skip("this process runs the interpreter already: test_triton_scan.py runs here directly")
    env = dict(os.environ, TRITON_INTERPRET="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    cmd = [
        sys.executable, "-m", "pytest", str(ROOT / "tests" / "ops" / "test_triton_scan.py"), "-q", "-rs",
        "-p", "no:cacheprovider", "-k", "not compile_for_a_gpu",  # that one runs in this session already
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in summary and "skipped" not in summary and "failed" not in summary, proc.stdout[-3000:]
