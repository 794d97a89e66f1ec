"""The selective scan as a ``torch`` scan loop, for ONNX export.

PyTorch's ONNX exporter has no translation for the custom op ``mamba_monai::selective_scan_fwd``, and unrolling the
pure-PyTorch reference writes one group of nodes per sequence step (a graph fixed to the export shape, minutes to
export). Written with PyTorch's ``scan`` higher-order op instead, the recurrence is exported as one ONNX ``Scan``
node whose body is a single step; onnxruntime runs it. :func:`mamba_monai.ops.selective_scan_fn` switches to this
form while ``torch.onnx.export`` traces a model (``torch.onnx.is_in_onnx_export()``), and only then.
"""

from __future__ import annotations

import torch

from mamba_monai.ops.reference import discretize, scan_output

__all__ = ["selective_scan_scan_loop"]


def selective_scan_scan_loop(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
):
    """Selective scan with ``selective_scan_fn``'s contract, one ``scan`` step per sequence position.

    The arithmetic of :func:`mamba_monai.ops.reference.selective_scan_ref` (its ``discretize``: decay ``exp(dt A)`` and drive
    ``dt B u`` computed up front, float32 accumulation, float64 kept), only the loop differs.

    Args:
        u: input, (batch, dim, len).
        delta: time steps before bias and softplus, (batch, dim, len).
        A: state matrix (diagonal per channel), (dim, dstate).
        B: input projection, (batch, dstate, len) or grouped (batch, groups, dstate, len).
        C: output projection, same shape as B.
        D: skip weight, (dim,).
        z: gate, (batch, dim, len): the output is multiplied by silu(z).
        delta_bias: added to delta, (dim,).
        delta_softplus: apply softplus to delta (after the bias).
        return_last_state: also return the final state (batch, dim, dstate).
    """
    from torch._higher_order_ops.scan import scan  # private module of PyTorch: imported only when exporting

    steps = discretize(u, delta, A, B, C, delta_bias, delta_softplus)
    batch, dim, length = u.shape

    def step(state, inputs):
        decay_t, drive_t, c_t = inputs
        state = decay_t * state + drive_t
        return state.clone(), torch.einsum("bgkn,bgn->bgk", state, c_t)  # scan's carry may not alias its output

    state, ys = scan(step, steps.u.new_zeros(steps.decay.shape[1:]), (steps.decay, steps.drive, steps.c))
    y = ys.permute(1, 2, 3, 0).reshape(batch, dim, length)
    out = scan_output(y, steps.u, D, z, u.dtype)
    if return_last_state:
        return out, state.reshape(batch, dim, -1)
    return out
