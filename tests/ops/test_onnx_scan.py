"""The selective scan written as a torch scan loop: same numbers as the reference, exported to ONNX as one Scan node
that onnxruntime runs, and used only while torch.onnx.export traces."""

from __future__ import annotations

import pytest
import torch

from mamba_monai.ops import selective_scan_fn
from mamba_monai.ops.onnx_scan import selective_scan_scan_loop
from mamba_monai.ops.reference import selective_scan_ref


def scan_inputs(batch=2, dim=8, dstate=4, length=23, groups=None, dtype=torch.float32):
    shape_bc = (batch, dstate, length) if groups is None else (batch, groups, dstate, length)
    return {
        "u": torch.randn(batch, dim, length, dtype=dtype),
        "delta": torch.randn(batch, dim, length, dtype=dtype),
        "A": -torch.rand(dim, dstate, dtype=dtype) - 0.1,
        "B": torch.randn(shape_bc, dtype=dtype),
        "C": torch.randn(shape_bc, dtype=dtype),
    }


@pytest.mark.parametrize("groups", [None, 1, 2])
@pytest.mark.parametrize("extras", [{}, {"D": True, "z": True, "delta_bias": True, "delta_softplus": True}])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scan_loop_equals_reference(groups, extras, dtype):
    args = scan_inputs(groups=groups, dtype=dtype)
    dim, length = args["u"].shape[1:]
    if extras:
        args.update(
            D=torch.randn(dim, dtype=dtype),
            z=torch.randn(2, dim, length, dtype=dtype),
            delta_bias=torch.randn(dim, dtype=dtype),
            delta_softplus=True,
        )
    expected, expected_state = selective_scan_ref(**args, return_last_state=True)
    got, state = selective_scan_scan_loop(**args, return_last_state=True)
    assert got.dtype == dtype and state.shape == expected_state.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(state, expected_state, rtol=1e-5, atol=1e-6)


class TinyScan(torch.nn.Module):
    def __init__(self, dim=8, dstate=4):
        super().__init__()
        self.A_log = torch.nn.Parameter(torch.randn(dim, dstate))
        self.D = torch.nn.Parameter(torch.randn(dim))
        self.delta_bias = torch.nn.Parameter(torch.randn(dim))

    def forward(self, u, delta, B, C, z):
        return selective_scan_fn(u, delta, -torch.exp(self.A_log), B, C, self.D, z, self.delta_bias, True)


def test_onnx_export_is_one_scan_node_that_onnxruntime_runs(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    args = scan_inputs(length=40, groups=2)
    inputs = (args["u"], args["delta"], args["B"], args["C"], torch.randn_like(args["u"]))
    module = TinyScan().eval()
    torch.onnx.export(module, inputs, str(tmp_path / "scan.onnx"), dynamo=True)
    graph = onnx.load(str(tmp_path / "scan.onnx")).graph
    ops = [node.op_type for node in graph.node]
    assert ops.count("Scan") + ops.count("Loop") == 1 and len(ops) < 60  # not unrolled over the 40 steps
    session = ort.InferenceSession(str(tmp_path / "scan.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs)})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(got), module(*inputs), rtol=1e-4, atol=1e-5)


def test_other_exports_keep_the_custom_op(backend):
    backend("compiled")  # the kernel op, not the plain-PyTorch reference
    args = scan_inputs(groups=2)
    inputs = (args["u"], args["delta"], args["B"], args["C"], torch.randn_like(args["u"]))
    program = torch.export.export(TinyScan().eval(), inputs)
    targets = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    assert "mamba_monai.selective_scan_fwd.default" in targets
