"""SegMamba: a 3D Mamba encoder with a UNETR-style decoder for volumetric segmentation (Xing et al., MICCAI 2024)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.blocks import UnetOutBlock, UnetrBasicBlock, UnetrUpBlock
from torch import nn

from mamba_monai.networks.blocks.fast_instance_norm import use_group_norm_kernel
from mamba_monai.networks.blocks.gsc import GSC
from mamba_monai.networks.blocks.mamba_layer import MambaLayer
from mamba_monai.networks.variants import VariantTable, variant_arguments

__all__ = ["SEGMAMBA_VARIANTS", "SegMamba", "SegMambaEncoder"]

#: the original's one model (about 67.42 M parameters with 4 inputs and 3 outputs)
SEGMAMBA_VARIANTS: VariantTable = {
    "default": {"depths": (2, 2, 2, 2), "feature_size": (48, 96, 192, 384), "hidden_size": 768},
}

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
      and counts as the original, different state-dict keys (original checkpoints need a key conversion:
      ``mamba-monai convert --from segmamba``, :func:`mamba_monai.convert.convert_segmamba_state_dict`).
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
        depths: Mamba layers per encoder stage (4 stages); overrides the variant's.
        feature_size: channels per encoder stage (4 stages), the decoder mirrors them; overrides the variant's.
        hidden_size: channels of the bottleneck block ``encoder5``; overrides the variant's.
        norm_name: norm of the UNETR encoder/decoder blocks (the Mamba encoder always uses instance norm, as the
            original).
        res_block: residual UNETR blocks.
        spatial_dims: must be 3 (kept for MONAI-style configs).
        d_state: SSM state size of the Mamba layers.
        d_conv: causal conv1d kernel size of the Mamba layers.
        expand: inner width factor of the Mamba layers.
        deep_supervision: in training mode, also return auxiliary lower-resolution outputs (see above).
        variant: a name in :data:`SEGMAMBA_VARIANTS` ("default": the original's sizes).
        channels_last: on CPU, run the convolutions on channels-last (``torch.channels_last_3d``) maps, which oneDNN
            convolves about 2x faster in bfloat16 (same values within the precision's rounding; the output is
            returned contiguous). The instance norms always run through the group-norm kernel
            (:func:`~mamba_monai.networks.blocks.fast_instance_norm.use_group_norm_kernel`), which keeps the layout.
    """

    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 3,
        depths: Sequence[int] | None = None,
        feature_size: Sequence[int] | None = None,
        hidden_size: int | None = None,
        norm_name: tuple | str = "instance",
        res_block: bool = True,
        spatial_dims: int = 3,
        d_state: int = 16,
        d_conv: int = 4,
        expand: float = 2,
        deep_supervision: bool = False,
        variant: str = "default",
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        sizes = variant_arguments(
            "SegMamba", SEGMAMBA_VARIANTS, variant, depths=depths, feature_size=feature_size, hidden_size=hidden_size
        )
        depths, feature_size, hidden_size = sizes["depths"], sizes["feature_size"], sizes["hidden_size"]
        if spatial_dims != 3:
            raise ValueError(f"SegMamba: only spatial_dims=3 is supported, got spatial_dims={spatial_dims!r}")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("hidden_size", hidden_size)):
            if int(value) != value or value < 1:
                raise ValueError(f"SegMamba: {name} must be a positive integer, got {value!r}")
        fs = tuple(feature_size)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.depths, self.feature_size, self.hidden_size = tuple(depths), fs, hidden_size
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
