"""The op as a PyTorch custom op: torch.compile, torch.export, torch.jit.trace, fake tensors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import mamba_monai  # noqa: F401 - registers torch.ops.mamba_monai
from mamba_monai.ops import selective_scan_fn
from tests.ops.scan_inputs import make_inputs, rel_err


class TinyScanModule(nn.Module):
    """Projections around one scan, as a mixer would call it."""

    def __init__(self, dim=16, dstate=4):
        super().__init__()
        self.proj = nn.Linear(dim, 3 * dim)
        self.bc = nn.Linear(dim, 2 * dstate)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, dstate + 1, dtype=torch.float32)).repeat(dim, 1))
        self.D = nn.Parameter(torch.ones(dim))
        self.dstate = dstate

    def forward(self, x):  # x (batch, len, dim)
        u, delta, z = self.proj(x).transpose(1, 2).chunk(3, dim=1)
        B, C = self.bc(x).transpose(1, 2).chunk(2, dim=1)
        return selective_scan_fn(u, delta, -torch.exp(self.A_log), B, C, self.D, z, delta_softplus=True)


def test_ops_are_registered():
    assert hasattr(torch.ops.mamba_monai, "selective_scan_fwd")
    assert hasattr(torch.ops.mamba_monai, "selective_scan_bwd")


def test_opcheck(backend):
    """torch.library.opcheck: schema, fake implementation, autograd registration are consistent."""
    backend("compiled")
    t = make_inputs(batch=1, dim=8, length=70, dstate=4, groups=2)
    args = (t["u"], t["delta"], t["A"], t["B"], t["C"], t["D"], t["z"], t["delta_bias"], True, "compiled")
    torch.library.opcheck(torch.ops.mamba_monai.selective_scan_fwd.default, args)


def test_torch_compile_matches_eager(backend):
    backend("compiled")
    module = TinyScanModule()
    x = torch.randn(2, 33, 16)
    eager = module(x)
    compiled = torch.compile(module, backend="inductor", fullgraph=True)
    out = compiled(x)
    assert rel_err(out, eager) <= 1e-5
    out.sum().backward()
    grads_compiled = [p.grad.clone() for p in module.parameters()]
    module.zero_grad()
    eager.sum().backward()
    for got, want in zip(grads_compiled, [p.grad for p in module.parameters()]):
        assert rel_err(got, want) <= 1e-4


def test_torch_export_runs_op(backend):
    backend("compiled")
    module = TinyScanModule().eval()
    x = torch.randn(1, 20, 16)
    program = torch.export.export(module, (x,))
    graph = str(program.graph)
    assert "mamba_monai.selective_scan_fwd" in graph
    assert rel_err(program.module()(x), module(x)) <= 1e-6


def test_jit_trace_runs_op(backend):
    backend("compiled")
    module = TinyScanModule().eval()
    x = torch.randn(1, 20, 16)
    with torch.no_grad():
        traced = torch.jit.trace(module, (x,))
        assert "mamba_monai::selective_scan_fwd" in str(traced.graph)
        assert rel_err(traced(x), module(x)) <= 1e-6


def test_raw_op_rejects_non_contiguous():
    t = make_inputs(batch=1, dim=8, length=12, dstate=4, requires_grad=False)
    u = t["u"].transpose(1, 2).contiguous().transpose(1, 2)  # same shape, not contiguous
    assert not u.is_contiguous()
    with pytest.raises(RuntimeError, match="u must be contiguous"):
        torch.ops.mamba_monai.selective_scan_fwd(
            u, t["delta"], t["A"], t["B"], t["C"], None, None, None, False, "compiled"
        )


def test_public_function_accepts_non_contiguous(backend):
    backend("compiled")
    t = make_inputs(batch=1, dim=8, length=12, dstate=4, requires_grad=False)
    u = t["u"].transpose(1, 2).contiguous().transpose(1, 2)
    out = selective_scan_fn(u, t["delta"], t["A"], t["B"], t["C"], t["D"], t["z"], t["delta_bias"], True)
    ref = selective_scan_fn(**t, delta_softplus=True)
    assert torch.equal(out, ref)


def test_meta_tensor_inputs(backend):
    """MONAI's MetaTensor (what bundle transforms produce) goes through the op as a plain tensor."""
    from monai.data import MetaTensor

    backend("compiled")
    t = make_inputs(batch=1, dim=8, length=12, dstate=4)
    meta = {k: (MetaTensor(v) if v is not None and v.dim() == 3 else v) for k, v in t.items()}
    out = selective_scan_fn(**meta, delta_softplus=True)
    ref = selective_scan_fn(**t, delta_softplus=True)
    assert torch.equal(out, ref)
    out.sum().backward()
    assert t["u"].grad is not None
