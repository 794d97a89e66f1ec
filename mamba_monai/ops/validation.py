"""Input checks of the selective scan, with messages that name the argument and the shapes involved."""

from __future__ import annotations

import torch

__all__ = ["check_scan_inputs"]


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def check_scan_inputs(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None,
    z: torch.Tensor | None,
    delta_bias: torch.Tensor | None,
) -> None:
    """Raise ValueError naming the offending argument when the inputs do not form a selective scan.

    Expected: u, delta, z (batch, dim, len); A (dim, dstate); B, C (batch, dstate, len) or (batch, groups, dstate, len)
    with dim divisible by groups; D, delta_bias (dim,); all real floating tensors on one device.
    """
    named = {"u": u, "delta": delta, "A": A, "B": B, "C": C, "D": D, "z": z, "delta_bias": delta_bias}
    present = {k: v for k, v in named.items() if v is not None}
    for name, t in present.items():
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"selective_scan: {name} must be a torch.Tensor, got {type(t).__name__}")
        if t.is_complex():
            raise ValueError(f"selective_scan: {name} is complex ({t.dtype}); only real floating tensors are supported")
        if not t.is_floating_point():
            raise ValueError(f"selective_scan: {name} must be a floating tensor, got dtype {t.dtype}")
    devices = {t.device for t in present.values()}
    if len(devices) > 1:
        where = ", ".join(f"{k} on {v.device}" for k, v in present.items())
        raise ValueError(f"selective_scan: all inputs must be on one device, got {where}")

    if u.dim() != 3:
        raise ValueError(f"selective_scan: u must be (batch, dim, len), got shape {_shape(u)}")
    batch, dim, length = u.shape
    if delta.shape != u.shape:
        raise ValueError(f"selective_scan: delta must have u's shape {_shape(u)}, got {_shape(delta)}")
    if A.dim() != 2 or A.shape[0] != dim:
        raise ValueError(f"selective_scan: A must be (dim, dstate) = ({dim}, N), got shape {_shape(A)}")
    dstate = A.shape[1]
    for name, t in (("B", B), ("C", C)):
        if t.dim() == 2:
            raise ValueError(
                f"selective_scan: {name} of shape {_shape(t)} is time-invariant; only input-dependent "
                f"{name} of shape (batch, dstate, len) or (batch, groups, dstate, len) is supported"
            )
        if t.dim() not in (3, 4):
            raise ValueError(
                f"selective_scan: {name} must be (batch, dstate, len) or (batch, groups, dstate, len), "
                f"got shape {_shape(t)}"
            )
        expected = (batch, dstate, length)
        if t.shape[0] != batch or tuple(t.shape[-2:]) != (dstate, length):
            raise ValueError(
                f"selective_scan: {name} of shape {_shape(t)} does not match (batch, [groups,] dstate, len) = "
                f"({expected[0]}, [G,] {expected[1]}, {expected[2]}) given by u {_shape(u)} and A {_shape(A)}"
            )
    if B.shape != C.shape:
        raise ValueError(f"selective_scan: B {_shape(B)} and C {_shape(C)} must have the same shape")
    if B.dim() == 4 and dim % B.shape[1] != 0:
        raise ValueError(f"selective_scan: dim {dim} of u is not divisible by the {B.shape[1]} groups of B and C")
    for name, t in (("D", D), ("delta_bias", delta_bias)):
        if t is not None and tuple(t.shape) != (dim,):
            raise ValueError(f"selective_scan: {name} must be ({dim},), got shape {_shape(t)}")
    if z is not None and z.shape != u.shape:
        raise ValueError(f"selective_scan: z must have u's shape {_shape(u)}, got {_shape(z)}")
