"""The mamba-monai command line: every command answers --help without doing its work."""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = ["info", "build-kernel", "bench-scan", "demo", "zoo", "convert", "label"]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "mamba_monai.cli", *args], capture_output=True, text=True, timeout=120)


def test_top_level_help_lists_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    text = result.stdout + result.stderr
    for command in COMMANDS:
        assert command.replace("-", "_") in text


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout + result.stderr
    assert len(text) > 50
    assert "=== " not in text  # the demo did not start


def test_info_reports_backends():
    result = run_cli("info")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "compiled_cpu_kernel" in result.stdout and "available" in result.stdout
    assert "triton_cuda_kernels" in result.stdout and "scan on cpu" in result.stdout


def test_demo_rejects_unknown_bundle():
    result = run_cli("demo", "no_such_bundle")
    assert result.returncode != 0
    assert "no demo for 'no_such_bundle'" in result.stderr


def test_a_bad_demo_name_ends_in_one_line(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "mamba_monai.cli", "demo", "nosuchbundle"], capture_output=True, text=True,
        cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mamba-monai: no demo for 'nosuchbundle'"), result.stderr
