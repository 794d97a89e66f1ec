"""Key renaming of Microscopic-Mamba checkpoints (github.com/zs1314/Microscopic-Mamba, ``microscopicmamba.py``)."""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from mamba_monai.convert.checkpoint_io import strip_prefix

__all__ = ["convert_msmamba_state_dict"]

# layers the original builds but never calls in its forward: dropped on conversion
_MSMAMBA_UNUSED_KEY = re.compile(r"\.pvm_layer\.(proj|mamba\.out_proj)\.(weight|bias)$")

# renames, applied in order to each key (after "module." is stripped)
_MSMAMBA_KEY_RULES: tuple[tuple[str, str], ...] = (
    (r"^patch_embed\.0\.c\.", "stem.0.conv."),
    (r"^patch_embed\.0\.bn\.", "stem.0.adn.N."),
    (r"^patch_embed\.2\.c\.", "stem.1.conv."),
    (r"^patch_embed\.2\.bn\.", "stem.1.adn.N."),
    (r"^layers\.(\d+)\.downsample\.", r"downsamples.\1."),
    (r"^layers\.(\d+)\.blocks\.(\d+)\.", r"stages.\1.\2."),
    (r"\.MIFA\.DWConv\.", ".mifa.dw_conv."),
    (r"\.MIFA\.attention\.", ".mifa.attention."),
    # Conv_branch = Sequential(BN, conv, BN, ReLU, conv, BN, ReLU, conv, BN, ReLU) -> BN + 3 conv-BN-ReLU units
    (r"\.Conv_branch\.1\.", ".conv_branch.1.conv."),
    (r"\.Conv_branch\.2\.", ".conv_branch.1.adn.N."),
    (r"\.Conv_branch\.4\.", ".conv_branch.2.conv."),
    (r"\.Conv_branch\.5\.", ".conv_branch.2.adn.N."),
    (r"\.Conv_branch\.7\.", ".conv_branch.3.conv."),
    (r"\.Conv_branch\.8\.", ".conv_branch.3.adn.N."),
    (r"\.Conv_branch\.0\.", ".conv_branch.0."),
    (r"\.pvm_layer\.", ".pvm."),
    (r"\.pvm\.mamba\.(x_proj_weight|dt_projs_weight|dt_projs_bias|A_logs|Ds)$", r".pvm.mamba.ssm.\1"),
    (r"\.pvm\.mamba\.PSFFN\.", ".pvm.mamba.out_proj."),
)


def convert_msmamba_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Convert a state dict of the original Microscopic-Mamba ``VSSM`` (github.com/zs1314/Microscopic-Mamba,
    ``microscopicmamba.py``) to the keys of :class:`~mamba_monai.networks.nets.MSMamba`.

    Mapping (a leading ``module.`` is stripped first):

    - stem ``patch_embed.0.c`` / ``.0.bn`` / ``.2.c`` / ``.2.bn`` -> ``stem.0.conv`` / ``stem.0.adn.N`` /
      ``stem.1.conv`` / ``stem.1.adn.N``;
    - ``layers.i.blocks.j`` -> ``stages.i.j``; ``layers.i.downsample`` -> ``downsamples.i`` (same concatenation
      order of the 2x2 neighbours as MONAI's ``PatchMergingV2``, so its ``norm`` / ``reduction`` map as they are);
    - in a block: ``MIFA.DWConv`` -> ``mifa.dw_conv``, ``MIFA.attention`` -> ``mifa.attention``;
      ``Conv_branch.0`` -> ``conv_branch.0``, ``Conv_branch.{1,2}`` / ``{4,5}`` / ``{7,8}`` (conv, BN) ->
      ``conv_branch.{1,2,3}.{conv,adn.N}``; ``pvm_layer`` -> ``pvm``; the SS2D's ``x_proj_weight``,
      ``dt_projs_weight``, ``dt_projs_bias``, ``A_logs``, ``Ds`` -> ``pvm.mamba.ssm.*`` (same stacked layout and
      direction order); its ``PSFFN`` -> ``pvm.mamba.out_proj``;
    - dropped: ``pvm_layer.proj.*`` and ``pvm_layer.mamba.out_proj.*``, built by the original but never used in
      its forward;
    - ``head`` and keys already in this package's form are kept, so converting twice is harmless.

    The original's PSFFN transposes H and W of its output (square maps only). To reproduce the original's outputs
    with converted weights, build the network with ``psffn_transpose_hw=True`` (and feed square inputs);
    with ``psffn_transpose_hw=False`` the converted weights are a starting point for fine-tuning, not the same
    function.

    Args:
        state_dict: the original model's ``state_dict()`` (tensors by key).

    Returns:
        A new state dict for ``MSMamba(...).load_state_dict(..., strict=True)``; build the network with
        the original's ``depths``, ``dims``, ``num_classes``, ``d_state`` and ``in_channels=3``. Loading reports
        missing, unexpected or mis-shaped keys (e.g. a checkpoint of another variant).
    """
    converted = {}
    for key, value in strip_prefix(state_dict, every_key=False).items():  # DataParallel / DDP checkpoints
        if _MSMAMBA_UNUSED_KEY.search(key):
            continue
        for pattern, replacement in _MSMAMBA_KEY_RULES:
            key = re.sub(pattern, replacement, key)
        converted[key] = value
    return converted
