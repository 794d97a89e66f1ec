"""SegMamba: a 3D Mamba encoder with a UNETR-style decoder for volumetric segmentation (Xing et al., MICCAI 2024)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch
from monai.networks.blocks import UnetOutBlock, UnetrBasicBlock, UnetrUpBlock
from torch import nn

from mamba_monai.networks.blocks.fast_instance_norm import use_group_norm_kernel
from mamba_monai.networks.blocks.gsc import GSC
from mamba_monai.networks.blocks.mamba_layer import MambaLayer

__all__ = ["SegMamba", "SegMambaEncoder", "convert_segmamba_state_dict"]

NUM_STAGES = 4
DOWNSAMPLING_FACTOR = 16  # stem stride 2, then three stride-2 downsamplings


def _channel_mlp(channels: int) -> nn.Sequential:
    """Per-voxel MLP on channel-first maps: 1x1 conv to 2C, GELU, 1x1 conv back to C (the original's MlpChannel)."""
    return nn.Sequential(nn.Conv3d(channels, 2 * channels, 1), nn.GELU(), nn.Conv3d(2 * channels, channels, 1))


class SegMambaEncoder(nn.Module):
    """The SegMamba encoder: four stages of (downsampling, GSC block, Mamba layers) with a skip output per stage.

    Stage 0 starts with the stem ``Conv3d(in_channels, feature_size[0], kernel 7, stride 2, padding 3)``; stages 1-3
    start with ``InstanceNorm3d`` and ``Conv3d(kernel 2, stride 2)``. Each stage then applies a :class:`GSC` block and
    ``depths[i]`` :class:`MambaLayer`. The stage output goes on to the next stage; the skip output of stage ``i`` is
    ``MLP(InstanceNorm3d(x))`` with the MLP ``1x1 conv (C -> 2C) -> GELU -> 1x1 conv (2C -> C)``.

    Args:
        in_channels: input channels.
        depths: Mamba layers per stage (4 stages).
        feature_size: channels per stage (4 stages).
        d_state: SSM state size of the Mamba layers.
        d_conv: causal conv1d kernel size of the Mamba layers.
        expand: inner width factor of the Mamba layers.
    """

    def __init__(
        self,
        in_channels: int = 4,
        depths: Sequence[int] = (2, 2, 2, 2),
        feature_size: Sequence[int] = (48, 96, 192, 384),
        d_state: int = 16,
        d_conv: int = 4,
        expand: float = 2,
    ) -> None:
        super().__init__()
        depths, feature_size = tuple(depths), tuple(feature_size)
        if len(depths) != NUM_STAGES or any(int(d) != d or d < 0 for d in depths):
            raise ValueError(f"SegMambaEncoder: depths must be {NUM_STAGES} integers >= 0, got {depths}")
        if len(feature_size) != NUM_STAGES or any(int(f) != f or f < 1 for f in feature_size):
            raise ValueError(
                f"SegMambaEncoder: feature_size must be {NUM_STAGES} positive integers, got {feature_size}"
            )
        self.downsample_layers = nn.ModuleList([nn.Conv3d(in_channels, feature_size[0], 7, stride=2, padding=3)])
        for i in range(1, NUM_STAGES):
            self.downsample_layers.append(
                nn.Sequential(
                    nn.InstanceNorm3d(feature_size[i - 1]), nn.Conv3d(feature_size[i - 1], feature_size[i], 2, stride=2)
                )
            )
        self.gscs = nn.ModuleList([GSC(f, spatial_dims=3) for f in feature_size])
        self.stages = nn.ModuleList(
            [
                nn.Sequential(*[MambaLayer(f, d_state=d_state, d_conv=d_conv, expand=expand) for _ in range(d)])
                for f, d in zip(feature_size, depths)
            ]
        )
        self.norms = nn.ModuleList([nn.InstanceNorm3d(f) for f in feature_size])
        self.mlps = nn.ModuleList([_channel_mlp(f) for f in feature_size])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, in_channels, D, H, W) -> the 4 skip outputs, stage i of shape (B, feature_size[i], D/2^(i+1), ...)."""
        outs = []
        for i in range(NUM_STAGES):
            x = self.stages[i](self.gscs[i](self.downsample_layers[i](x)))
            outs.append(self.mlps[i](self.norms[i](x)))
        return outs


class SegMamba(nn.Module):
    """SegMamba (Xing et al., "SegMamba: Long-range Sequential Modeling Mamba For 3D Medical Image Segmentation",
    MICCAI 2024), as built by ``model_segmamba/segmamba.py`` of github.com/ge-xing/SegMamba.

    Encoder (:class:`SegMambaEncoder`): stem conv (kernel 7, stride 2) to ``feature_size[0]``; per stage a
    downsampling (instance norm + conv kernel 2 stride 2, except stage 0), a gated spatial convolution block
    (:class:`~mamba_monai.networks.blocks.gsc.GSC`) and ``depths[i]`` residual tri-oriented Mamba layers
    (:class:`~mamba_monai.networks.blocks.mamba_layer.MambaLayer`); per-stage skip output ``MLP(InstanceNorm(x))``.
    Decoder (MONAI's UNETR blocks, ``norm_name`` / ``res_block``): ``encoder1`` (:class:`UnetrBasicBlock`) on the
    raw input, ``encoder2..4`` on the skip outputs of stages 0-2, ``encoder5`` (to ``hidden_size``) on stage 3,
    ``decoder5..2`` (:class:`UnetrUpBlock`, kernel 3, upsampling kernel 2) back up to full resolution with the
    skips, ``decoder1`` (:class:`UnetrBasicBlock`) and a 1x1 output conv (:class:`UnetOutBlock`).

    With the defaults the network has about 67.42 M parameters, about 3.1 M of them in the Mamba layers.

    Input: ``(B, in_channels, D, H, W)`` with each of D, H, W a multiple of 16 (the total downsampling) and the
    deepest map ``(D/16, H/16, W/16)`` holding more than one voxel (instance normalisation needs at least two);
    e.g. 32x48x64, 96^3, 128x128x64. Other shapes raise ValueError.

    Output: logits ``(B, out_channels, D, H, W)``. With ``deep_supervision=True`` and in training mode, a list of 4
    tensors instead, finest first: ``[full-resolution output (B, out_channels, D, H, W),
    auxiliary output of decoder3 (B, out_channels, D/2, H/2, W/2), auxiliary output of decoder4 (..., D/4, H/4, W/4),
    auxiliary output of decoder5 (..., D/8, H/8, W/8)]``; each auxiliary output is a 1x1 conv head
    (:class:`UnetOutBlock`) on that decoder block's features (``feature_size[1]``, ``[2]``, ``[3]`` channels). The
    list can be passed to :class:`monai.losses.DeepSupervisionLoss`, which resizes the target for each level. In
    evaluation mode the output is always the single full-resolution tensor (so inferers and bundles work unchanged).

    Deviations from the original:

    - The inter-slice scan follows the actual size of the first spatial axis of each stage's map. The original
      hard-codes the slice counts (64, 32, 16, 8), which are right for 128^3 crops only (other sizes either crash or
      scan wrong "slices"); here any patch whose sides are multiples of 16 works.
    - All three scan directions (forward, reverse, inter-slice) get Mamba's time-step initialisation (uniform
      ``dt_proj`` weight in +-dt_rank^-0.5, inverse-softplus bias of a log-uniform time step in [1e-3, 0.1]); in the
      original only the forward branch does, the reverse and inter-slice ``dt_proj`` keep ``nn.Linear``'s default.
    - Parameter layout of the mixer: the three directions' depthwise conv1d are one grouped conv1d and their
      ``x_proj`` / ``dt_proj`` / ``A_log`` / ``D`` are stacked per direction (``MultiDirectionSSM``); same shapes
      and counts as the original, different state-dict keys (original checkpoints need a key conversion).
    - The mixer always runs all three directions; the original's non-fused path (``use_fast_path=False`` or
      inference with a cache) silently ran the forward direction only.
    - Defaults ``in_channels=4`` (the BraTS modalities) and ``out_channels=3`` (the overlapping BraTS regions TC,
      WT, ET, for sigmoid outputs); the original's defaults are 1 and 13 (its BraTS training script uses 4 and 4).
    - ``d_state``, ``d_conv`` and ``expand`` of the Mamba layers are arguments (the original fixes 16, 4, 2).
    - The output block takes ``feature_size[0]`` channels (the original hard-codes 48, which breaks other sizes).
    - The original's unused arguments ``drop_path_rate``, ``layer_scale_init_value`` and ``conv_block`` are dropped.
    - Optional deep supervision (``deep_supervision=True``, off by default; the original has none).
    - Input shapes are checked up front with a clear ValueError (the original fails inside a layer).

    Args:
        in_channels: input channels (image modalities).
        out_channels: output channels (classes or regions).
        depths: Mamba layers per encoder stage (4 stages).
        feature_size: channels per encoder stage (4 stages); the decoder mirrors them.
        hidden_size: channels of the bottleneck block ``encoder5``.
        norm_name: norm of the UNETR encoder/decoder blocks (the Mamba encoder always uses instance norm, as the
            original).
        res_block: residual UNETR blocks.
        spatial_dims: must be 3 (kept for MONAI-style configs).
        d_state: SSM state size of the Mamba layers.
        d_conv: causal conv1d kernel size of the Mamba layers.
        expand: inner width factor of the Mamba layers.
        deep_supervision: in training mode, also return auxiliary lower-resolution outputs (see above).
        channels_last: on CPU, run the convolutions on channels-last (``torch.channels_last_3d``) maps, which oneDNN
            convolves about 2x faster in bfloat16 (same values within the precision's rounding; the output is
            returned contiguous). The instance norms always run through the group-norm kernel
            (:func:`~mamba_monai.networks.blocks.fast_instance_norm.use_group_norm_kernel`), which keeps the layout.
    """

    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 3,
        depths: Sequence[int] = (2, 2, 2, 2),
        feature_size: Sequence[int] = (48, 96, 192, 384),
        hidden_size: int = 768,
        norm_name: tuple | str = "instance",
        res_block: bool = True,
        spatial_dims: int = 3,
        d_state: int = 16,
        d_conv: int = 4,
        expand: float = 2,
        deep_supervision: bool = False,
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        if spatial_dims != 3:
            raise ValueError(f"SegMamba: only spatial_dims=3 is supported, got spatial_dims={spatial_dims!r}")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("hidden_size", hidden_size)):
            if int(value) != value or value < 1:
                raise ValueError(f"SegMamba: {name} must be a positive integer, got {value!r}")
        fs = tuple(feature_size)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.feature_size, self.hidden_size = fs, hidden_size
        self.deep_supervision = deep_supervision
        self.mamba_encoder = SegMambaEncoder(in_channels, depths, fs, d_state=d_state, d_conv=d_conv, expand=expand)

        def basic(c_in: int, c_out: int) -> UnetrBasicBlock:
            return UnetrBasicBlock(3, c_in, c_out, kernel_size=3, stride=1, norm_name=norm_name, res_block=res_block)

        def up(c_in: int, c_out: int) -> UnetrUpBlock:
            return UnetrUpBlock(
                3, c_in, c_out, kernel_size=3, upsample_kernel_size=2, norm_name=norm_name, res_block=res_block
            )

        self.encoder1 = basic(in_channels, fs[0])
        self.encoder2 = basic(fs[0], fs[1])
        self.encoder3 = basic(fs[1], fs[2])
        self.encoder4 = basic(fs[2], fs[3])
        self.encoder5 = basic(fs[3], hidden_size)
        self.decoder5 = up(hidden_size, fs[3])
        self.decoder4 = up(fs[3], fs[2])
        self.decoder3 = up(fs[2], fs[1])
        self.decoder2 = up(fs[1], fs[0])
        self.decoder1 = basic(fs[0], fs[0])
        self.out = UnetOutBlock(3, fs[0], out_channels)
        # heads on decoder3 (1/2), decoder4 (1/4), decoder5 (1/8) outputs, finest first
        self.deep_supervision_heads = (
            nn.ModuleList([UnetOutBlock(3, fs[i], out_channels) for i in (1, 2, 3)]) if deep_supervision else None
        )
        self.channels_last = bool(channels_last)
        use_group_norm_kernel(self)  # same numbers as nn.InstanceNorm3d, faster, keeps the channels-last layout

    def check_input_shape(self, shape: Sequence[int]) -> None:
        """Raise ValueError if the network cannot segment an input of this shape ``(B, C, D, H, W)``.

        Args:
            shape: the input's shape.
        """
        shape = tuple(int(s) for s in shape)
        if len(shape) != 5 or shape[1] != self.in_channels:
            raise ValueError(f"SegMamba expects input (B, {self.in_channels}, D, H, W), got {shape}")
        spatial = shape[2:]
        if any(s % DOWNSAMPLING_FACTOR for s in spatial):
            raise ValueError(
                f"SegMamba: every spatial side of the input must be a multiple of {DOWNSAMPLING_FACTOR} "
                f"(the total downsampling), got spatial shape {spatial} from input shape {shape}; "
                f"pad or crop the patch (e.g. a ROI of 96x96x96 or 128x128x64)"
            )
        if all(s == DOWNSAMPLING_FACTOR for s in spatial):
            raise ValueError(
                f"SegMamba: the deepest feature map (input sides / {DOWNSAMPLING_FACTOR}) must have more than one "
                f"voxel for instance normalisation, got spatial shape {spatial} from input shape {shape}; "
                f"use a patch with at least one side of {2 * DOWNSAMPLING_FACTOR} or more"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        """(B, in_channels, D, H, W) -> (B, out_channels, D, H, W), or a list in deep-supervised training."""
        if not torch.jit.is_tracing():
            self.check_input_shape(x.shape)
        if self.channels_last and x.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last_3d)
        skips = self.mamba_encoder(x)
        enc1 = self.encoder1(x)
        enc2 = self.encoder2(skips[0])
        enc3 = self.encoder3(skips[1])
        enc4 = self.encoder4(skips[2])
        hidden = self.encoder5(skips[3])
        dec3 = self.decoder5(hidden, enc4)  # 1/8
        dec2 = self.decoder4(dec3, enc3)  # 1/4
        dec1 = self.decoder3(dec2, enc2)  # 1/2
        dec0 = self.decoder2(dec1, enc1)  # full resolution
        logits = self.out(self.decoder1(dec0))
        if self.channels_last:
            logits = logits.contiguous()
        if self.deep_supervision_heads is None or not self.training:
            return logits
        return [logits] + [head(f) for head, f in zip(self.deep_supervision_heads, (dec1, dec2, dec3))]


# --- conversion of checkpoints of the original code (github.com/ge-xing/SegMamba, model_segmamba/segmamba.py) ---

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
    for original_key, value in state_dict.items():
        key = original_key[len("module.") :] if original_key.startswith("module.") else original_key  # (D)DP
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
