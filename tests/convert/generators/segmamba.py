"""segmamba_tiny.pt from ge-xing/SegMamba (``model_segmamba/segmamba.py`` with the repository's own modified
``mamba/mamba_ssm``, tri-oriented ``bimamba_type="v3"``), random perturbed weights, the fused path's output.

The original's CUDA extensions are replaced by CPU equivalents: ``causal_conv1d_cuda.causal_conv1d_fwd`` by a
depthwise causal ``conv1d`` (+ SiLU), ``selective_scan_cuda.fwd`` by this package's reference scan. Two changes make
the original run at this tiny size (recorded in the fixture's note): its output block is rebuilt with
``feat_size[0]`` input channels (the original hard-codes 48), and each Mamba layer's ``nslices`` is set to its
stage's first spatial axis (the original hard-codes 64/32/16/8, right for a first axis of 128 only).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from mamba_monai.ops.reference import selective_scan_ref
from tests.convert.generators.fixture_values import perturbed_fixture
from tests.convert.generators.original_code import git_commit, load_module

ORIGINAL_CONFIG = {"in_chans": 1, "out_chans": 2, "depths": [2, 1, 1, 1], "feat_size": [4, 4, 8, 8], "hidden_size": 8}
#: the same network in this package's names
CONFIG = {"in_channels": 1, "out_channels": 2, "depths": (2, 1, 1, 1), "feature_size": (4, 4, 8, 8), "hidden_size": 8}
INPUT_SHAPE = [1, 1, 32, 16, 16]
SLICES = [16, 8, 4, 2]  # first spatial axis of each stage's map for this input


def _causal_conv1d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, silu: bool) -> torch.Tensor:
    """(B, D, L) depthwise causal convolution with ``weight`` (D, W), optionally followed by SiLU."""
    out = F.conv1d(x, weight.unsqueeze(1), bias, padding=weight.shape[-1] - 1, groups=x.shape[1])[..., : x.shape[-1]]
    return F.silu(out) if silu else out


def _selective_scan_fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus):  # noqa: N803 - the kernel's names
    """``selective_scan_cuda.fwd``'s outputs (out, intermediates, out * silu(z)) from the reference scan."""
    out = selective_scan_ref(u, delta, A, B, C, D, None, delta_bias, delta_softplus)
    out_z = selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus) if z is not None else out
    return out, None, out_z


def _install_cpu_extensions(repository: Path) -> None:
    conv_cuda = types.ModuleType("causal_conv1d_cuda")
    conv_cuda.causal_conv1d_fwd = _causal_conv1d
    conv = types.ModuleType("causal_conv1d")
    conv.causal_conv1d_fn = lambda x, weight, bias=None, activation=None: _causal_conv1d(
        x, weight, bias, activation in ("silu", "swish")
    )
    conv.causal_conv1d_update = None
    scan_cuda = types.ModuleType("selective_scan_cuda")
    scan_cuda.fwd = _selective_scan_fwd
    package = types.ModuleType("mamba_ssm")  # the repository's package, without its __init__ (transformers, ...)
    package.__path__ = [str(Path(repository).resolve() / "mamba" / "mamba_ssm")]
    sys.modules.update(
        {"causal_conv1d_cuda": conv_cuda, "causal_conv1d": conv, "selective_scan_cuda": scan_cuda, "mamba_ssm": package}
    )
    from mamba_ssm.modules.mamba_simple import Mamba  # the repository's modified Mamba

    package.Mamba = Mamba


def make(repository: Path, seed: int = 20261126) -> dict[str, Any]:
    from monai.networks.blocks.dynunet_block import UnetOutBlock

    _install_cpu_extensions(repository)
    original = load_module(repository, "model_segmamba/segmamba.py", "original_segmamba")
    model = original.SegMamba(**ORIGINAL_CONFIG)
    model.out = UnetOutBlock(3, ORIGINAL_CONFIG["feat_size"][0], ORIGINAL_CONFIG["out_chans"])
    for stage, slices in zip(model.vit.stages, SLICES):
        for layer in stage:
            layer.mamba.nslices = slices
    fixture, _, _ = perturbed_fixture(model, seed, INPUT_SHAPE, float32=True)
    fixture["config"] = CONFIG
    fixture["note"] = (
        f"original ge-xing/SegMamba @ {git_commit(repository)}, random weights (perturbed); out block rebuilt with "
        f"in_channels=feat_size[0] (original hard-codes 48); Mamba.nslices set to the stage's first axis {SLICES}; "
        "generator: tests/convert/generators/segmamba.py"
    )
    return fixture
