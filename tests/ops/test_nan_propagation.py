"""A NaN time step reaches the output in every backend that runs here, as in the reference (no silent ~20)."""

from __future__ import annotations

import pytest
import torch

from mamba_monai.ops import selective_scan_fn, selective_scan_ref
from tests.ops.scan_inputs import make_inputs


@pytest.mark.parametrize("name", ["compiled", "chunked"])
@pytest.mark.parametrize("softplus", [True, False])
def test_nan_delta_propagates_like_the_reference(backend, name, softplus):
    backend(name)
    t = make_inputs(batch=1, dim=16, length=40, dstate=4, requires_grad=False, softplus=softplus)
    t["delta"][0, 3, 7] = float("nan")
    out = selective_scan_fn(**t, delta_softplus=softplus)
    ref = selective_scan_ref(**t, delta_softplus=softplus)
    assert torch.isnan(ref[0, 3, 7:]).all()
    assert torch.equal(torch.isnan(out), torch.isnan(ref))


def test_nan_delta_gradient_is_not_silently_finite(backend):
    backend("compiled")
    t = make_inputs(batch=1, dim=16, length=40, dstate=4)
    with torch.no_grad():
        t["delta"][0, 3, 7] = float("nan")
    selective_scan_fn(**t, delta_softplus=True).sum().backward()
    assert torch.isnan(t["delta"].grad[0, 3]).any()
