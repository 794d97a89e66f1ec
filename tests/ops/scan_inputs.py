"""Random, realistic selective-scan inputs for the op tests."""

from __future__ import annotations

import math

import torch


def make_inputs(
    batch=2,
    dim=40,
    length=64,
    dstate=16,
    groups=1,
    grouped_layout=True,
    with_D=True,
    with_z=True,
    with_bias=True,
    dtype=torch.float32,
    requires_grad=True,
    softplus=True,
):
    """Inputs in the ranges Mamba sees: time steps within about [1e-3, 0.1], A = -exp(N(0, 0.5)).

    With ``softplus`` the time step is softplus(delta + delta_bias); without it delta (+ bias) is already positive.
    """
    g = torch.Generator().manual_seed(1234 + length + 7 * dstate + 13 * groups)

    def randn(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g) * scale).to(dtype)

    dt = torch.exp(torch.rand(dim, generator=g) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
    if softplus:
        bias = (dt + torch.log(-torch.expm1(-dt))).to(dtype)  # inverse softplus
        delta = randn(batch, dim, length, scale=0.5)
    else:
        bias = (dt * 0.1).to(dtype)
        delta = (torch.rand(batch, dim, length, generator=g) * 0.1 + 1e-3).to(dtype)
    A = -torch.exp(torch.randn(dim, dstate, generator=g) * 0.5).to(dtype)
    bc_shape = (batch, groups, dstate, length) if (grouped_layout or groups > 1) else (batch, dstate, length)
    tensors = {
        "u": randn(batch, dim, length),
        "delta": delta,
        "A": A,
        "B": randn(*bc_shape),
        "C": randn(*bc_shape),
        "D": randn(dim) if with_D else None,
        "z": randn(batch, dim, length) if with_z else None,
        "delta_bias": bias if with_bias else None,
    }
    if requires_grad:
        for t in tensors.values():
            if t is not None:
                t.requires_grad_(True)
    return tensors


def grads_of(out, tensors, grad_out):
    names = [k for k, v in tensors.items() if v is not None]
    grads = torch.autograd.grad(out, [tensors[k] for k in names], grad_out)
    return dict(zip(names, grads))


def rel_err(a, b):
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-12)).item()
