"""The weight initialisation shared by the VMamba family (MedMamba, Microscopic-Mamba, SliceMamba)."""

from __future__ import annotations

from timm.layers import trunc_normal_
from torch import nn

__all__ = ["init_vmamba_weights"]


def init_vmamba_weights(module: nn.Module, kaiming_conv2d: bool = False) -> None:
    """VMamba's ``_init_weights``, for ``network.apply``: Linear trunc-normal(0.02) with zero bias, LayerNorm 1 / 0,
    and, with ``kaiming_conv2d``, Conv2d weights Kaiming-normal (fan_out, relu) as MedMamba and Microscopic-Mamba do.

    Args:
        module: the module being visited.
        kaiming_conv2d: re-initialise Conv2d weights too.
    """
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif kaiming_conv2d and isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
