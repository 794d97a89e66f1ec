"""Key renaming of SegMamba checkpoints (github.com/ge-xing/SegMamba, ``model_segmamba/segmamba.py``): the three
per-direction tensors of each tri-oriented Mamba are stacked into this package's ``MultiDirectionSSM`` layout."""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from mamba_monai.convert.checkpoint_io import strip_prefix

__all__ = ["convert_segmamba_state_dict"]

# renames outside the Mamba mixers, applied in order to each key (after "module." is stripped)
_SEGMAMBA_KEY_RULES: tuple[tuple[str, str], ...] = (
    (r"^vit\.", "mamba_encoder."),
    (r"^mamba_encoder\.downsample_layers\.0\.0\.", "mamba_encoder.downsample_layers.0."),  # stem: Sequential(conv)
    (r"^(mamba_encoder\.gscs\.\d+)\.proj\.", r"\1.main.0.conv."),
    (r"^(mamba_encoder\.gscs\.\d+)\.proj2\.", r"\1.main.1.conv."),
    (r"^(mamba_encoder\.gscs\.\d+)\.proj3\.", r"\1.side.conv."),
    (r"^(mamba_encoder\.gscs\.\d+)\.proj4\.", r"\1.fuse.conv."),
    (r"^(mamba_encoder\.mlps\.\d+)\.fc1\.", r"\1.0."),
    (r"^(mamba_encoder\.mlps\.\d+)\.fc2\.", r"\1.2."),
)

# a parameter of the original's modified ``Mamba(bimamba_type="v3")``: "<prefix>.mamba.<name>"
_V3_MAMBA_KEY = re.compile(
    r"^(?P<prefix>.*)\.mamba\.(?P<name>in_proj\.(weight|bias)|out_proj\.(weight|bias)|conv1d(_b|_s)?\.(weight|bias)"
    r"|x_proj(_b|_s)?\.weight|dt_proj(_b|_s)?\.(weight|bias)|A(_b|_s)?_log|D(_b|_s)?)$"
)

# this package's stacked tensor <- the original's per-direction tensors, directions in the order of
# TriOrientedScan3D (forward, reverse "_b", inter-slice "_s"); "stack" adds a direction axis, "cat" concatenates
# along the (folded direction x channel) axis
_V3_DIRECTION_TENSORS: tuple[tuple[str, str, tuple[str, str, str]], ...] = (
    ("conv1d.weight", "cat", ("conv1d.weight", "conv1d_b.weight", "conv1d_s.weight")),
    ("conv1d.bias", "cat", ("conv1d.bias", "conv1d_b.bias", "conv1d_s.bias")),
    ("ssm.x_proj_weight", "stack", ("x_proj.weight", "x_proj_b.weight", "x_proj_s.weight")),
    ("ssm.dt_projs_weight", "stack", ("dt_proj.weight", "dt_proj_b.weight", "dt_proj_s.weight")),
    ("ssm.dt_projs_bias", "stack", ("dt_proj.bias", "dt_proj_b.bias", "dt_proj_s.bias")),
    ("ssm.A_logs", "cat", ("A_log", "A_b_log", "A_s_log")),
    ("ssm.Ds", "cat", ("D", "D_b", "D_s")),
)


def _convert_v3_mamba(prefix: str, params: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """The original's ``<prefix>.mamba.*`` tensors (names without the prefix) -> ``<prefix>.mixer.*`` of
    :class:`~mamba_monai.networks.blocks.mamba3d.Mamba3DMixer`; ``source`` is the prefix as the checkpoint spells it
    (for error messages)."""
    converted = {}
    for name in ("in_proj.weight", "in_proj.bias", "out_proj.weight", "out_proj.bias"):
        if name in params:
            converted[f"{prefix}.mixer.{name}"] = params[name]
    for target, how, sources in _V3_DIRECTION_TENSORS:
        present = [s for s in sources if s in params]
        if not present and target == "conv1d.bias":
            continue  # built with conv_bias=False
        if len(present) != len(sources):
            missing = ", ".join(f"{source}.mamba.{s}" for s in sources if s not in params)
            raise ValueError(
                f"convert_segmamba_state_dict: the tri-oriented Mamba at {source!r} needs the forward, reverse "
                f"('_b') and inter-slice ('_s') tensors of each parameter (SegMamba's bimamba_type='v3'); "
                f"missing: {missing}"
            )
        shapes = [tuple(params[s].shape) for s in sources]
        if len(set(shapes)) != 1:
            listed = ", ".join(f"{s} {shape}" for s, shape in zip(sources, shapes))
            raise ValueError(
                f"convert_segmamba_state_dict: the three directions of {source}.mamba must have tensors of the same "
                f"shape, got {listed}"
            )
        tensors = [params[s] for s in sources]
        converted[f"{prefix}.mixer.{target}"] = torch.stack(tensors) if how == "stack" else torch.cat(tensors)
    return converted


def convert_segmamba_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Convert a state dict of the original SegMamba (github.com/ge-xing/SegMamba, ``model_segmamba/segmamba.py``)
    to the keys and layout of :class:`SegMamba`.

    Mapping (a leading ``module.`` is stripped first):

    - ``vit.`` -> ``mamba_encoder.``; the stem ``vit.downsample_layers.0.0.*`` -> ``...downsample_layers.0.*``;
      GSC ``proj``, ``proj2``, ``proj3``, ``proj4`` -> ``main.0.conv``, ``main.1.conv``, ``side.conv``,
      ``fuse.conv``; skip MLPs ``mlps.i.fc1`` / ``fc2`` -> ``mlps.i.0`` / ``mlps.i.2``.
    - Each ``stages.i.j.mamba.*`` (the original's modified ``Mamba(bimamba_type="v3")``) -> ``stages.i.j.mixer.*``:
      ``in_proj`` and ``out_proj`` unchanged; the per-direction tensors of the forward, reverse (``_b``) and
      inter-slice (``_s``) branches are combined in that order: ``conv1d{,_b,_s}.{weight,bias}`` concatenated into
      the grouped ``conv1d``; ``x_proj{,_b,_s}.weight`` stacked into ``ssm.x_proj_weight`` (3, R + 2N, d_inner);
      ``dt_proj{,_b,_s}.weight`` / ``.bias`` stacked into ``ssm.dt_projs_weight`` (3, d_inner, R) /
      ``ssm.dt_projs_bias`` (3, d_inner); ``A{,_b,_s}_log`` and ``D{,_b,_s}`` concatenated into ``ssm.A_logs``
      (3 d_inner, N) and ``ssm.Ds`` (3 d_inner).
    - The MONAI decoder blocks (``encoder1..5``, ``decoder1..5``, ``out``) keep their keys.
    - Keys already in this package's form are kept, so converting twice is harmless.

    The converted weights reproduce the original's outputs (to float rounding) on the inputs the original accepts:
    its inter-slice scan uses hard-coded slice counts (64, 32, 16, 8), which equal the first spatial axis of each
    stage only for inputs with a first axis of 128 (the BraTS crops, 128^3); this network always uses the actual
    first axis. The original's output block hard-codes 48 input channels (``feat_size[0]`` must be 48).

    Args:
        state_dict: the original model's ``state_dict()`` (tensors by key).

    Returns:
        A new state dict for ``SegMamba(...).load_state_dict(..., strict=True)``; build the network with the
        original's sizes: ``in_channels=in_chans``, ``out_channels=out_chans``, ``depths``,
        ``feature_size=feat_size``, ``hidden_size``, ``norm_name``, ``res_block``. Loading reports missing,
        unexpected or mis-shaped keys (e.g. a checkpoint of another configuration).

    Raises:
        ValueError: a Mamba layer lacks some of its three directions' tensors, or their shapes disagree.
    """
    converted: dict[str, torch.Tensor] = {}
    mixers: dict[str, dict[str, torch.Tensor]] = {}
    sources: dict[str, str] = {}  # converted mixer prefix -> prefix as in the checkpoint
    for original_key, value in strip_prefix(state_dict, every_key=False).items():  # (D)DP checkpoints
        key = original_key
        for pattern, replacement in _SEGMAMBA_KEY_RULES:
            key = re.sub(pattern, replacement, key)
        match = _V3_MAMBA_KEY.match(key)
        if match:
            mixers.setdefault(match["prefix"], {})[match["name"]] = value
            sources[match["prefix"]] = original_key[: -len(match["name"]) - len(".mamba.")]
        else:
            converted[key] = value
    for prefix, params in mixers.items():
        converted.update(_convert_v3_mamba(prefix, params, sources[prefix]))
    return converted
