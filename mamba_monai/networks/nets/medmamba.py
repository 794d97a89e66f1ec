"""MedMamba: a hybrid conv / state-space classifier for medical images (Yue & Li, 2024)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import torch
from monai.networks.blocks.patchembedding import PatchEmbed
from monai.networks.nets.swin_unetr import PatchMergingV2
from timm.layers import DropPath
from torch import nn

from mamba_monai.networks.blocks.ss2d import SS2D
from mamba_monai.networks.input_checks import check_image_2d
from mamba_monai.networks.variants import VariantTable, variant_arguments
from mamba_monai.networks.weight_init import init_vmamba_weights

__all__ = [
    "MEDMAMBA_VARIANTS",
    "MedMamba",
    "MedMambaBlock",
    "channel_shuffle_last",
]

#: the original's medmamba_t / _s / _b (parameters with 6 classes: 14,457,222; 18,625,158; 39,864,838)
MEDMAMBA_VARIANTS: VariantTable = {
    "t": {"depths": (2, 2, 4, 2), "dims": (96, 192, 384, 768)},
    "s": {"depths": (2, 2, 8, 2), "dims": (96, 192, 384, 768)},
    "b": {"depths": (2, 2, 12, 2), "dims": (128, 256, 512, 1024)},
}


def channel_shuffle_last(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle on a channel-last tensor ``(..., C)``: ``C`` is read as ``(groups, C / groups)``
    and transposed, so with two groups the channels of the two halves alternate (0, C/2, 1, C/2 + 1, ...)."""
    return x.unflatten(-1, (groups, -1)).transpose(-1, -2).flatten(-2)


class MedMambaBlock(nn.Module):
    """MedMamba's SS-Conv-SSM block (the original's ``SS_Conv_SSM``) on channel-last maps ``(B, H, W, C)``.

    The channels are split in halves. The first half goes through the conv branch: BatchNorm, 3x3 conv, BN, ReLU,
    3x3 conv, BN, ReLU, 1x1 conv, ReLU (full convs with bias, C/2 -> C/2). The second half goes through LayerNorm,
    an :class:`SS2D` mixer (width C/2, 4-direction cross-scan) and stochastic depth. The halves are concatenated
    (conv first), channel-shuffled with 2 groups and added to the input.

    Args:
        channels: channels C in and out (even).
        d_state: SSM state size.
        drop_path: stochastic-depth rate of the SS2D branch.
        attn_drop: dropout after the SS2D mixer's output projection.
    """

    def __init__(self, channels: int, d_state: int = 16, drop_path: float = 0.0, attn_drop: float = 0.0) -> None:
        super().__init__()
        if channels < 2 or channels % 2:
            raise ValueError(f"MedMambaBlock: channels must be even (split in halves), got {channels}")
        self.channels = channels
        half = channels // 2
        self.conv_branch = nn.Sequential(
            nn.BatchNorm2d(half),
            nn.Conv2d(half, half, kernel_size=3, padding=1),
            nn.BatchNorm2d(half),
            nn.ReLU(),
            nn.Conv2d(half, half, kernel_size=3, padding=1),
            nn.BatchNorm2d(half),
            nn.ReLU(),
            nn.Conv2d(half, half, kernel_size=1),
            nn.ReLU(),
        )
        self.norm = nn.LayerNorm(half)
        self.ss2d = SS2D(half, d_state=d_state, dropout=attn_drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C)."""
        if x.dim() != 4 or x.shape[-1] != self.channels:
            raise ValueError(
                f"MedMambaBlock expects channel-last input (B, H, W, {self.channels}), got {tuple(x.shape)}"
            )
        local, global_ = x.chunk(2, dim=-1)
        global_ = self.drop_path(self.ss2d(self.norm(global_)))
        local = self.conv_branch(local.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return channel_shuffle_last(torch.cat([local, global_], dim=-1), groups=2) + x


class MedMamba(nn.Module):
    """MedMamba classifier (Yue & Li, "MedMamba: Vision Mamba for Medical Image Classification", 2024;
    https://github.com/YubiaoYue/MedMamba).

    Patch embedding (``patch_size`` x ``patch_size`` conv with stride ``patch_size``, then LayerNorm), stages (four
    by default) of :class:`MedMambaBlock` with a patch merging between stages (2x2 neighbours concatenated,
    LayerNorm, Linear 4C -> 2C without bias: MONAI's ``PatchMergingV2``), global average pooling and a linear head.
    As in the original there is no normalisation after the last stage. The total stride is
    ``patch_size * 2 ** (stages - 1)`` (32 by default): height and width must be multiples of it (e.g. 224 x 224,
    64 x 96); they need not be equal.

    Parameters with 6 classes and 3 input channels, equal to the original's ``VSSM``: t 14,457,222; s 18,625,158;
    b 39,864,838.

    Differences from the original code: input sizes that are not multiples of the total stride are rejected with a
    ValueError (the original prints a warning and drops the odd row / column at each patch merging); the state-dict
    keys differ (``stages.i.j`` for ``layers.i.blocks.j``, ``downsamples.i`` for ``layers.i.downsample``, readable
    block part names, the SSM tensors under ``ss2d.ssm``): ``mamba-monai convert --from medmamba``
    (:func:`mamba_monai.convert.convert_medmamba_state_dict`) maps the original's checkpoints onto this class, which
    then computes the same outputs.

    Initialisation as the original: linear layers truncated-normal (std 0.02) with zero bias, LayerNorms 1 / 0,
    every ``Conv2d`` weight (patch embedding, conv branch and SS2D's depthwise conv) Kaiming-normal (fan_out, ReLU)
    with PyTorch's default bias; the SSM parameters keep their Mamba initialisation.

    Args:
        in_channels: channels of the input image (e.g. 3 for RGB, 1 for grey-level ultrasound or CT).
        num_classes: number of classes; 0 returns the pooled features.
        variant: a name in :attr:`variants` (:data:`MEDMAMBA_VARIANTS`: "t", "s" or "b", the depths and dims of the
            original's three models).
        depths: blocks per stage; overrides the variant's.
        dims: channels per stage, each twice the previous and even, or an int for the first stage's (then doubled
            per stage); overrides the variant's.
        d_state: SSM state size.
        drop_rate: dropout after the patch embedding.
        attn_drop_rate: dropout inside the SS2D mixers.
        drop_path_rate: stochastic depth, increasing linearly from 0 to this over the blocks.
        patch_size: side of the patch embedding's square patches.
        block: block class, called as ``block(channels, d_state=..., drop_path=..., attn_drop=..., **block_kwargs)``.
        block_kwargs: further keyword arguments of ``block``.
    """

    #: named variants (subclasses with other blocks have their own table)
    variants: VariantTable = MEDMAMBA_VARIANTS

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1000,
        variant: str = "t",
        depths: Sequence[int] | None = None,
        dims: Sequence[int] | int | None = None,
        d_state: int = 16,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        patch_size: int = 4,
        block: type[nn.Module] = MedMambaBlock,
        block_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        sizes = variant_arguments(name, self.variants, variant, depths=depths, dims=dims)
        depths, dims = tuple(sizes["depths"]), sizes["dims"]
        if isinstance(dims, int):
            dims = [dims * 2**i for i in range(len(depths))]
        dims = tuple(dims)
        if len(depths) != len(dims) or not depths or min(depths) < 1:
            raise ValueError(
                f"{name}: depths and dims need one positive entry per stage, got depths={depths}, dims={dims}"
            )
        if any(d < 2 or d % 2 for d in dims) or any(b != 2 * a for a, b in zip(dims, dims[1:])):
            raise ValueError(
                f"{name}: dims must be even (blocks split the channels in halves) and each twice the previous "
                f"(patch merging doubles the channels), got {dims}"
            )
        if in_channels < 1:
            raise ValueError(f"{name}: in_channels must be >= 1, got {in_channels}")
        if patch_size < 1:
            raise ValueError(f"{name}: patch_size must be >= 1, got {patch_size}")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.depths, self.dims = depths, dims
        self.size_divisor = patch_size * 2 ** (len(dims) - 1)

        self.patch_embed = PatchEmbed(
            patch_size=patch_size, in_chans=in_channels, embed_dim=dims[0], norm_layer=nn.LayerNorm, spatial_dims=2
        )
        self.pos_drop = nn.Dropout(drop_rate)
        rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()
        block_kwargs = dict(block_kwargs or {})
        self.stages = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        for i, (depth, dim) in enumerate(zip(depths, dims)):
            first = sum(depths[:i])
            blocks = (
                block(dim, d_state=d_state, drop_path=rates[first + j], attn_drop=attn_drop_rate, **block_kwargs)
                for j in range(depth)
            )
            self.stages.append(nn.Sequential(*blocks))
            if i < len(dims) - 1:
                self.downsamples.append(PatchMergingV2(dim, spatial_dims=2))
        self.head = nn.Linear(dims[-1], num_classes) if num_classes > 0 else nn.Identity()
        self.apply(partial(init_vmamba_weights, kaiming_conv2d=True))

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ValueError unless ``x`` is ``(B, in_channels, H, W)`` with H, W multiples of ``size_divisor``."""
        why = f"patch embedding stride {self.size_divisor >> (len(self.dims) - 1)} and {len(self.dims) - 1} patch mergings"
        check_image_2d(type(self).__name__, x, self.in_channels, self.size_divisor, why)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> last stage's channel-last map (B, H / size_divisor, W / size_divisor, dims[-1])."""
        self.check_input(x)
        x = self.pos_drop(self.patch_embed(x).permute(0, 2, 3, 1))
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.downsamples):
                x = self.downsamples[i](x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> logits (B, num_classes) (pooled features (B, dims[-1]) if num_classes == 0)."""
        return self.head(self.forward_features(x).mean(dim=(1, 2)))
