"""``pip wheel .`` builds a wheel that carries the C++ kernel source, and the installed wheel runs a bundle's network.

The wheel is installed with ``pip install --no-deps --target`` into a temporary folder that comes first on the path
of a fresh interpreter started outside the repository, so the checkout cannot stand in for it; the heavy dependencies
(torch, MONAI) come from the test environment, as they would from the user's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CHECK_INSTALLED = r"""
import json, pathlib, sys
import torch
import mamba_monai
from mamba_monai.ops import selective_scan_fn
from mamba_monai.ops.compiled import kernel_unavailable_reason
from monai.bundle import ConfigParser

installed = pathlib.Path(mamba_monai.__file__).resolve()
assert str(installed).startswith(sys.argv[1]), f"imported {installed}, not the installed wheel"
assert kernel_unavailable_reason() is None, kernel_unavailable_reason()
g = torch.Generator().manual_seed(0)
u, delta = torch.randn(1, 4, 33, generator=g), torch.rand(1, 4, 33, generator=g)
A = -torch.rand(4, 2, generator=g) - 0.5
B, C = torch.randn(1, 2, 33, generator=g), torch.randn(1, 2, 33, generator=g)
from mamba_monai.ops.reference import selective_scan_ref
torch.testing.assert_close(selective_scan_fn(u, delta, A, B, C), selective_scan_ref(u, delta, A, B, C))
bundle = pathlib.Path(sys.argv[2])
parser = ConfigParser()
parser.read_config(str(bundle / "configs" / "inference.json"))
parser["bundle_root"] = str(bundle)
parser["network_def#depths"] = [1, 1, 1, 1]
parser["network_def#dims"] = [16, 32, 64, 128]
net = parser.get_parsed_content("network_def").eval()
with torch.no_grad():
    out = net(torch.rand(1, 3, 64, 64))
print(json.dumps({"version": mamba_monai.__version__, "out": list(out.shape)}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(REPO), "-w", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    (path,) = out.glob("mamba_monai-*.whl")
    return path


def test_wheel_carries_the_kernel_source_and_every_module(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "mamba_monai/_kernels/selective_scan/selective_scan.cpp" in names
    sources = {p.relative_to(REPO).as_posix() for p in (REPO / "mamba_monai").rglob("*.py")}
    assert sources <= names, f"modules missing from the wheel: {sorted(sources - names)[:5]}"


def test_installed_wheel_builds_the_kernel_and_a_bundle_network(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(target), "MAMBA_MONAI_SCAN_BACKEND": "compiled"}
    result = subprocess.run(
        [sys.executable, "-c", CHECK_INSTALLED, str(target), str(REPO / "bundles" / "medmambase_ultrasound")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert '"out": [1, 6]' in result.stdout
