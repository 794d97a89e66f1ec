"""Export of every bundle's network with MONAI's bundle scripts, and what does not export, pinned.

- TorchScript by tracing (``python -m monai.bundle ckpt_export ... --use_trace true --input_shape ...``) works for
  every bundle; the traced file reproduces the eager output at the export shape and at another batch size and
  spatial size. The Mamba networks' traced graphs call the custom op ``mamba_monai::selective_scan_fwd``, so
  ``import mamba_monai`` must come before ``torch.jit.load``.
- TorchScript by scripting (ckpt_export's default, ``use_trace`` false) works for SE-ResNeXt only: the TorchScript
  compiler rejects Python it cannot type statically in the Mamba networks (shape unpacking, ``tuple(x.shape)``, and
  MONAI's own 2D ``PatchEmbed``).
- ONNX (``python -m monai.bundle onnx_export``, PyTorch's dynamo exporter) works for every bundle and onnxruntime
  reproduces the eager output: while the exporter traces, the selective scan runs as a torch ``scan`` loop
  (``mamba_monai.ops.onnx_scan``), exported as one ONNX ``Scan`` node (the custom op has no ONNX translation).

Tiny networks (the overrides of the bundle tests), random weights; each case takes a few seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import sys
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser, ckpt_export, onnx_export

import mamba_monai  # noqa: F401 - registers torch.ops.mamba_monai.* before traced files are loaded
from tests.bundles.bundle_runs import BUNDLES_DIR, bundle_params, error_messages

# per bundle: overrides that make the network tiny (as in the bundle's own tests), the export input shape, another
# input shape the exported model must also handle, and whether the network is a Mamba (selective-scan) network
CASES = {
    "segmamba_brats": (
        {"network_def#feature_size": [8, 16, 32, 64], "network_def#hidden_size": 32},
        [1, 4, 32, 32, 32],
        [2, 4, 64, 32, 32],
        True,
    ),
    "medmambase_ultrasound": (
        {"num_classes": 6, "network_def#dims": 16, "network_def#depths": [1, 1, 1, 1]},
        [1, 3, 64, 64],
        [2, 3, 96, 64],
        True,
    ),
    "msmamba_microscopy": (
        {"network_def#num_classes": 4, "network_def#depths": [1, 1, 1, 1], "network_def#dims": [32, 64, 128, 256]},
        [1, 3, 64, 64],
        [2, 3, 96, 64],
        True,
    ),
    "senet_ultrasound": ({"num_classes": 6, "network_def#layers": [1, 1, 1, 1]}, [1, 3, 64, 64], [2, 3, 96, 64], False),
    "slicemamba_lesion": (  # uniform genotype (all strips choice 3) instead of models/genotype.json from a search
        {"network_def#genotype": [3] * 6, "dims": [8, 16, 32], "depths": [1, 1, 1], "depths_decoder": [1, 1, 1]},
        [1, 3, 64, 64],
        [2, 3, 128, 64],
        True,
    ),
}
with_inference = pytest.mark.parametrize("bundle", bundle_params("configs/metadata.json", "configs/inference.json"))


def case(bundle: Path):
    if bundle.name not in CASES:
        pytest.fail(f"bundle {bundle.name} has no export case in {__file__}: add its tiny overrides and input shapes")
    return CASES[bundle.name]


def tiny_network_with_weights(bundle: Path, tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    """The bundle's ``network_def`` from inference.json with the tiny overrides, random weights saved as model.pt."""
    overrides, *_ = case(bundle)
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser.update({"bundle_root": str(bundle), **overrides})
    net = parser.get_parsed_content("network_def").eval()
    ckpt = tmp_path / "model.pt"
    torch.save(net.state_dict(), ckpt)
    return net, ckpt


def export_kwargs(bundle: Path, ckpt: Path) -> dict:
    overrides, shape, *_ = case(bundle)
    return {
        "net_id": "network_def",
        "ckpt_file": str(ckpt),
        "meta_file": str(bundle / "configs" / "metadata.json"),
        "config_file": str(bundle / "configs" / "inference.json"),
        "bundle_root": str(bundle),
        "input_shape": shape,
        **overrides,
    }


def assert_matches_eager(net: torch.nn.Module, exported, shape: list[int]) -> None:
    x = torch.rand(shape)
    with torch.no_grad():
        expected, got = net(x), exported(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@with_inference
def test_ckpt_export_by_tracing_matches_eager(bundle, tmp_path):
    """The command of the model cards, run as a user would (a separate process, overrides on the command line)."""
    net, ckpt = tiny_network_with_weights(bundle, tmp_path)
    kwargs = export_kwargs(bundle, ckpt)
    ts_file = tmp_path / "model.ts"
    cmd = [sys.executable, "-m", "monai.bundle", "ckpt_export", kwargs.pop("net_id"), "--filepath", str(ts_file)]
    for key, value in {**kwargs, "use_trace": True}.items():
        cmd += [f"--{key}", json.dumps(value) if isinstance(value, (list, bool, int)) else str(value)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    extra = {"metadata.json": "", "inference.json": ""}
    traced = torch.jit.load(str(ts_file), _extra_files=extra)
    _, shape, other_shape, _ = case(bundle)
    assert_matches_eager(net, traced, shape)
    assert_matches_eager(net, traced, other_shape)  # not frozen to the export shape
    meta = json.loads(extra["metadata.json"])
    assert meta["version"] == json.loads((bundle / "configs" / "metadata.json").read_text())["version"]
    assert "network_def" in json.loads(extra["inference.json"])


@with_inference
def test_ckpt_export_by_scripting_works_for_senet_only(bundle, tmp_path):
    net, ckpt = tiny_network_with_weights(bundle, tmp_path)
    kwargs = export_kwargs(bundle, ckpt)
    kwargs.pop("input_shape")
    if not case(bundle)[3]:
        ckpt_export(filepath=str(tmp_path / "model.ts"), use_trace=False, **kwargs)
        assert_matches_eager(net, torch.jit.load(str(tmp_path / "model.ts")), case(bundle)[1])
        return
    with pytest.raises(Exception) as err:
        ckpt_export(filepath=str(tmp_path / "model.ts"), use_trace=False, **kwargs)
    messages = error_messages(err.value)
    assert any("<--- HERE" in m for m in messages), messages  # a TorchScript compiler error pointing at the source
    assert not (tmp_path / "model.ts").exists()


def test_traced_mamba_network_loads_only_after_importing_mamba_monai(tmp_path):
    bundle = BUNDLES_DIR / "msmamba_microscopy"
    _, ckpt = tiny_network_with_weights(bundle, tmp_path)
    ckpt_export(filepath=str(tmp_path / "model.ts"), use_trace=True, **export_kwargs(bundle, ckpt))
    load = f"import torch; torch.jit.load({str(tmp_path / 'model.ts')!r})"
    result = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "Unknown builtin op: mamba_monai::selective_scan_fwd" in result.stderr
    assert torch.jit.load(str(tmp_path / "model.ts")) is not None  # here mamba_monai is imported: it loads


@with_inference
def test_onnx_export_matches_eager(bundle, tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    # MONAI's onnx_export exports to a NamedTemporaryFile, and the exporter writes the weights beside it as
    # "<name>.data", which nothing deletes: keep those files in this test's folder instead of the system's /tmp.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    pytest.importorskip("onnxscript")  # torch.onnx's (default) dynamo exporter
    ort = pytest.importorskip("onnxruntime")
    net, ckpt = tiny_network_with_weights(bundle, tmp_path)
    onnx_file = tmp_path / "model.onnx"
    kwargs = export_kwargs(bundle, ckpt)
    onnx_export(filepath=str(onnx_file), use_trace=True, **kwargs)
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    x = torch.rand(case(bundle)[1])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        expected = net(x)
    torch.testing.assert_close(torch.from_numpy(got), expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))
