"""MSMamba (Microscopic-Mamba): a hybrid conv / state-space classifier for microscopy images (Zou et al., 2024)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution
from monai.networks.nets.swin_unetr import PatchMergingV2
from timm.layers import DropPath
from torch import nn

from mamba_monai.networks.blocks.mifa import MIFA
from mamba_monai.networks.blocks.parallel_vssm import ParallelVSSM
from mamba_monai.networks.input_checks import check_image_2d
from mamba_monai.networks.variants import VariantTable, variant_arguments
from mamba_monai.networks.weight_init import init_vmamba_weights

__all__ = ["MSMAMBA_VARIANTS", "MSMamba", "MSMambaBlock"]

#: the original's microscopicmamba_t / _s / _b (parameters: see :class:`MSMamba`)
MSMAMBA_VARIANTS: VariantTable = {
    "t": {"depths": (2, 2, 4, 2), "dims": (96, 192, 384, 768)},
    "s": {"depths": (2, 2, 8, 2), "dims": (96, 192, 384, 768)},
    "b": {"depths": (2, 2, 12, 2), "dims": (128, 256, 512, 1024)},
}


class MSMambaBlock(nn.Module):
    """One MSMamba (Microscopic-Mamba) block (the original's ``SS_Conv_SSM``) on channel-last maps ``(B, H, W, C)``.

    The channels are split in halves. The first half goes through the conv branch (BatchNorm; 3x3 depthwise conv,
    BN, ReLU; 3x3 grouped conv doubling the channels, BN, ReLU; 1x1 conv back, BN, ReLU), the second through a
    :class:`ParallelVSSM` (with stochastic depth) and a channel shuffle (``C // 4`` groups). :class:`MIFA` fuses the
    conv (local) and state-space (global) maps back into C channels. As in the original there is no residual
    connection around the block (the residuals live inside the state-space branch).

    Args:
        channels: channels C in and out; a multiple of 16, at least 32.
        d_state: SSM state size.
        drop_path: stochastic-depth rate of the state-space branch.
        attn_drop: dropout inside the SS2D mixer (the original's ``attn_drop_rate``).
        psffn_transpose_hw: reproduce the original's H/W swap in the PSFFN (square maps only).
    """

    def __init__(
        self,
        channels: int,
        d_state: int = 16,
        drop_path: float = 0.0,
        attn_drop: float = 0.0,
        psffn_transpose_hw: bool = False,
    ) -> None:
        super().__init__()
        if channels < 32 or channels % 16:
            raise ValueError(
                f"MSMambaBlock: channels must be a multiple of 16 and at least 32 (halves in 4 groups, "
                f"mixer width C / 8 even with a selected quarter), got {channels}"
            )
        self.channels = channels
        half = channels // 2

        def conv_bn_relu(c_in: int, c_out: int, kernel_size: int, groups: int = 1) -> Convolution:
            return Convolution(
                2, c_in, c_out, kernel_size=kernel_size, groups=groups, act="relu", norm="batch", adn_ordering="NA"
            )

        self.conv_branch = nn.Sequential(
            nn.BatchNorm2d(half),
            conv_bn_relu(half, half, 3, groups=half),
            conv_bn_relu(half, channels, 3, groups=half),
            conv_bn_relu(channels, half, 1),
        )
        self.pvm = ParallelVSSM(half, d_state=d_state, dropout=attn_drop, psffn_transpose_hw=psffn_transpose_hw)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.mifa = MIFA(half)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C)."""
        if x.dim() != 4 or x.shape[-1] != self.channels:
            raise ValueError(
                f"MSMambaBlock expects channel-last input (B, H, W, {self.channels}), got {tuple(x.shape)}"
            )
        local, global_ = x.chunk(2, dim=-1)
        global_ = self.drop_path(self.pvm(global_)).permute(0, 3, 1, 2)
        global_ = F.channel_shuffle(global_, self.channels // 4)
        local = self.conv_branch(local.permute(0, 3, 1, 2))
        return self.mifa(local, global_).permute(0, 2, 3, 1)


class MSMamba(nn.Module):
    """MSMamba, the Microscopic-Mamba classifier (Zou et al., "Microscopic-Mamba: Revealing the Secrets of
    Microscopic Images with Just 4M Parameters", 2024; https://github.com/zs1314/Microscopic-Mamba).

    Stem: two stride-2 3x3 Conv-BN (GELU between). Four stages of :class:`MSMambaBlock` (conv branch,
    parallel-VSSM branch with PSFFN in SS2D, MIFA fusion with channel attention), MONAI's ``PatchMergingV2`` between
    stages (the dims double), global average pooling and a linear head. Total stride 32: input height and width must
    be multiples of 32 (e.g. 224 x 224, 64 x 96); they need not be equal.

    Parameters with 1000 classes and 3 input channels. The original builds two layers per block that its forward never
    calls (the PVM's ``proj``, a biased linear C/2 -> C/2, and SS2D's linear ``out_proj`` C/4 -> C/8, replaced by the
    PSFFN); they are not built here:

    ======= ================= ============== ===============
    variant original (built)  never used     this class
    ======= ================= ============== ===============
    t       4,321,310         525,408        3,795,902
    s       4,971,714         692,064        4,279,650
    b       9,405,578         1,525,120      7,880,458
    ======= ================= ============== ===============

    Differences from the original code: the PSFFN's H/W transposition is fixed (non-square inputs work; set
    ``psffn_transpose_hw=True`` for weights trained with it, square inputs only); the unused layers above are not
    built; ``in_channels`` is configurable (the original's stem takes 3); inputs whose sizes are not multiples of 32
    are rejected (the original prints a warning and drops the odd row/column at each patch merging).

    Initialisation as the original: linear layers truncated-normal (std 0.02) with zero bias, LayerNorms 1 / 0,
    every ``Conv2d`` weight Kaiming-normal (fan_out, ReLU); the SSM parameters keep their Mamba initialisation.

    Args:
        in_channels: channels of the input image (e.g. 3 for RGB, 1 for grey-level microscopy).
        num_classes: number of classes; 0 returns the pooled features.
        variant: a name in :data:`MSMAMBA_VARIANTS` ("t", "s" or "b": depths and dims of the original's three
            models).
        depths: blocks per stage; overrides the variant's.
        dims: channels per stage, each twice the previous, multiples of 16, at least 32; overrides the variant's.
        d_state: SSM state size.
        drop_rate: dropout after the stem.
        attn_drop_rate: dropout inside the SS2D mixers.
        drop_path_rate: stochastic depth, increasing linearly from 0 to this over the blocks.
        psffn_transpose_hw: reproduce the original's H/W swap in every PSFFN (square inputs only).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1000,
        variant: str = "t",
        depths: Sequence[int] | None = None,
        dims: Sequence[int] | None = None,
        d_state: int = 16,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        psffn_transpose_hw: bool = False,
    ) -> None:
        super().__init__()
        sizes = variant_arguments("MSMamba", MSMAMBA_VARIANTS, variant, depths=depths, dims=dims)
        depths, dims = tuple(sizes["depths"]), tuple(sizes["dims"])
        if len(depths) != len(dims) or not depths or min(depths) < 1:
            raise ValueError(
                f"MSMamba: depths and dims need one positive entry per stage, got depths={depths}, dims={dims}"
            )
        if any(d < 32 or d % 16 for d in dims) or any(b != 2 * a for a, b in zip(dims, dims[1:])):
            raise ValueError(
                f"MSMamba: dims must be multiples of 16, at least 32, each twice the previous "
                f"(patch merging doubles the channels), got {dims}"
            )
        if in_channels < 1:
            raise ValueError(f"MSMamba: in_channels must be >= 1, got {in_channels}")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.depths, self.dims = depths, dims
        self.psffn_transpose_hw = psffn_transpose_hw
        self.size_divisor = 4 * 2 ** (len(dims) - 1)

        self.stem = nn.Sequential(
            Convolution(
                2,
                in_channels,
                dims[0] // 2,
                strides=2,
                kernel_size=3,
                act="gelu",
                norm="batch",
                bias=False,
                adn_ordering="NA",
            ),
            Convolution(
                2,
                dims[0] // 2,
                dims[0],
                strides=2,
                kernel_size=3,
                act=None,
                norm="batch",
                bias=False,
                adn_ordering="N",
            ),
        )
        self.pos_drop = nn.Dropout(drop_rate)
        rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()
        self.stages = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        for i, (depth, dim) in enumerate(zip(depths, dims)):
            first = sum(depths[:i])
            self.stages.append(
                nn.Sequential(
                    *(
                        MSMambaBlock(
                            dim, d_state, rates[first + j], attn_drop_rate, psffn_transpose_hw=psffn_transpose_hw
                        )
                        for j in range(depth)
                    )
                )
            )
            if i < len(dims) - 1:
                self.downsamples.append(PatchMergingV2(dim, spatial_dims=2))
        self.head = nn.Linear(dims[-1], num_classes) if num_classes > 0 else nn.Identity()
        self.apply(partial(init_vmamba_weights, kaiming_conv2d=True))

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ValueError unless ``x`` is ``(B, in_channels, H, W)`` with H, W multiples of ``size_divisor``."""
        why = f"stem stride 4 and {len(self.dims) - 1} patch mergings"
        check_image_2d("MSMamba", x, self.in_channels, self.size_divisor, why)
        if self.psffn_transpose_hw and x.shape[2] != x.shape[3] and not torch.jit.is_tracing():
            raise ValueError(
                f"MSMamba: psffn_transpose_hw=True reproduces the original's H/W swap and needs square "
                f"inputs, got (H, W) = ({x.shape[2]}, {x.shape[3]})"
            )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> last stage's channel-last map (B, H / 32, W / 32, dims[-1])."""
        self.check_input(x)
        x = self.pos_drop(self.stem(x).permute(0, 2, 3, 1))
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.downsamples):
                x = self.downsamples[i](x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> logits (B, num_classes) (pooled features (B, dims[-1]) if num_classes == 0)."""
        return self.head(self.forward_features(x).mean(dim=(1, 2)))
