"""The convert registry infers SegMamba / Microscopic-Mamba sizes from converted tensors (the converters and their
fixtures are tests/convert/test_{segmamba,msmamba}_convert.py's; here: the CLI path on top of them)."""

from __future__ import annotations

import pytest
import torch

from mamba_monai.convert import convert_checkpoint, get_family
from tests.convert.fixture_tools import FIXTURES


@pytest.mark.parametrize("family, options", [("segmamba", {}), ("msmamba", {"psffn_transpose_hw": True})])
def test_convert_command_path(family, options, tmp_path, backend):
    backend("reference")
    fixture = torch.load(FIXTURES / f"{family}_tiny.pt", weights_only=True)
    state = {k: v.float() if v.is_floating_point() else v for k, v in fixture["state_dict"].items()}
    path = tmp_path / "original.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    result = convert_checkpoint(family, path, tmp_path / "model.pt")
    plain = lambda value: list(value) if isinstance(value, (list, tuple)) else value  # noqa: E731
    for key, value in fixture["config"].items():
        if key in result.network_kwargs:  # sizes the registry inferred equal those the original was built with
            assert plain(result.network_kwargs[key]) == plain(value), key
    network = get_family(family).build({**result.network_kwargs, **options}).eval()
    network.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True))
    with torch.no_grad():
        output = network(fixture["input"].float())
    expected = fixture["output"].float()
    assert (output - expected).abs().max() <= 1e-4 * expected.abs().max()
    if family == "msmamba":
        assert any("psffn_transpose_hw=True" in note for note in result.notes)
