"""MedMambaSE: MedMamba with squeeze-and-excitation channel recalibration in every block (Tanjim-Islam/MedMambaSE)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from timm.layers import DropPath
from torch import nn

from mamba_monai.networks.blocks.squeeze_excitation import SqueezeExcitation
from mamba_monai.networks.blocks.ss2d import SS2D
from mamba_monai.networks.nets.medmamba import MedMamba
from mamba_monai.networks.variants import VariantTable

__all__ = ["MEDMAMBASE_VARIANTS", "MedMambaSE", "MedMambaSEBlock"]

#: the original's one model (``VSSM`` defaults; 14,135,814 parameters with 6 classes)
MEDMAMBASE_VARIANTS: VariantTable = {"default": {"depths": (2, 2, 2, 2), "dims": (96, 192, 384, 768)}}


class MedMambaSEBlock(nn.Module):
    """MedMambaSE's block (the original's ``ConvSSM``) on channel-last maps ``(B, H, W, C)``.

    The channels are split in halves. The first half goes through the conv branch: 3x3 conv, BN, ReLU, 3x3 conv,
    BN, ReLU, 1x1 conv (full convs with bias, C/2 -> C/2). The second half goes through a residual SS2D branch:
    ``x + drop_path(SS2D(LayerNorm(x)))``. The halves are concatenated (conv first), recalibrated by one
    :class:`SqueezeExcitation` over all C channels (bias-free, ``se_reduction``), mixed by a 1x1 conv (with bias) and
    added to the input. The SE weights of the last forward pass are ``self.se.last_weights`` (B, C).

    Args:
        channels: channels C in and out (even).
        d_state: SSM state size.
        drop_path: stochastic-depth rate of the SS2D branch.
        attn_drop: dropout after the SS2D mixer's output projection.
        se_reduction: reduction ratio of the squeeze-and-excitation layer (C / se_reduction hidden units).
    """

    def __init__(
        self, channels: int, d_state: int = 16, drop_path: float = 0.0, attn_drop: float = 0.0, se_reduction: int = 16
    ) -> None:
        super().__init__()
        if channels < 2 or channels % 2:
            raise ValueError(f"MedMambaSEBlock: channels must be even (split in halves), got {channels}")
        self.channels = channels
        half = channels // 2
        self.conv_branch = nn.Sequential(
            nn.Conv2d(half, half, kernel_size=3, padding=1),
            nn.BatchNorm2d(half),
            nn.ReLU(),
            nn.Conv2d(half, half, kernel_size=3, padding=1),
            nn.BatchNorm2d(half),
            nn.ReLU(),
            nn.Conv2d(half, half, kernel_size=1),
        )
        self.norm = nn.LayerNorm(half)
        self.ss2d = SS2D(half, d_state=d_state, dropout=attn_drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.se = SqueezeExcitation(channels, reduction=se_reduction)
        self.final_conv = nn.Conv2d(channels, channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C)."""
        if x.dim() != 4 or x.shape[-1] != self.channels:
            raise ValueError(
                f"MedMambaSEBlock expects channel-last input (B, H, W, {self.channels}), got {tuple(x.shape)}"
            )
        local, global_ = x.chunk(2, dim=-1)
        global_ = global_ + self.drop_path(self.ss2d(self.norm(global_)))
        local = self.conv_branch(local.permute(0, 3, 1, 2))
        y = self.se(torch.cat([local, global_.permute(0, 3, 1, 2)], dim=1))
        return self.final_conv(y).permute(0, 2, 3, 1) + x


class MedMambaSE(MedMamba):
    """MedMambaSE classifier (https://github.com/Tanjim-Islam/MedMambaSE): MedMamba's trunk (patch embedding,
    four stages, patch merging, average pooling, linear head; see :class:`MedMamba`) with
    :class:`MedMambaSEBlock` blocks, whose squeeze-and-excitation layer recalibrates the concatenated conv and SS2D
    channels and whose 1x1 conv replaces MedMamba's channel shuffle. Default depths (2, 2, 2, 2), dims 96 -> 768:
    14,135,814 parameters with 6 classes and 3 input channels (as the original's ``VSSM``).

    :meth:`se_weights` returns the channel weights of every block's SE layer from the last forward pass, for
    explainability plots. ``mamba-monai convert --from medmambase`` (:func:`mamba_monai.convert.convert_medmamba_state_dict`)
    maps the original's checkpoints onto this class. Differences from the original code and initialisation: as
    :class:`MedMamba` (the SE linear layers are initialised truncated-normal, std 0.02, as there).

    Args:
        in_channels: channels of the input image (e.g. 3 for RGB, 1 for grey-level ultrasound).
        num_classes: number of classes; 0 returns the pooled features.
        depths: blocks per stage; overrides the variant's.
        dims: channels per stage, each twice the previous and even, or an int for the first stage's; overrides the
            variant's.
        d_state: SSM state size.
        drop_rate: dropout after the patch embedding.
        attn_drop_rate: dropout inside the SS2D mixers.
        drop_path_rate: stochastic depth, increasing linearly from 0 to this over the blocks.
        patch_size: side of the patch embedding's square patches.
        se_reduction: reduction ratio of every SE layer.
        variant: a name in :data:`MEDMAMBASE_VARIANTS` ("default": the original's depths and dims).
    """

    variants: VariantTable = MEDMAMBASE_VARIANTS

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1000,
        depths: Sequence[int] | None = None,
        dims: Sequence[int] | int | None = None,
        d_state: int = 16,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        patch_size: int = 4,
        se_reduction: int = 16,
        variant: str = "default",
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            num_classes=num_classes,
            variant=variant,
            depths=depths,
            dims=dims,
            d_state=d_state,
            drop_rate=drop_rate,
            attn_drop_rate=attn_drop_rate,
            drop_path_rate=drop_path_rate,
            patch_size=patch_size,
            block=MedMambaSEBlock,
            block_kwargs={"se_reduction": se_reduction},
        )

    def se_layers(self) -> dict[str, SqueezeExcitation]:
        """Every block's SE layer by module name (``"stages.0.1.se"``: stage 0, block 1), in forward order."""
        return {name: m for name, m in self.named_modules() if isinstance(m, SqueezeExcitation)}

    def se_weights(self) -> dict[str, torch.Tensor]:
        """Channel weights (B, C) of every SE layer from the last forward pass, by module name; empty before one."""
        return {name: m.last_weights for name, m in self.se_layers().items() if m.last_weights is not None}
