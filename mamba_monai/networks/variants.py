"""Named variants of a network: one table per network maps a name (``"t"``, ``"default"``...) to the constructor
arguments it fixes; the constructor's ``variant=`` argument looks the name up, and the checkpoint converter
(:mod:`mamba_monai.convert.families`) reads the same table to name a converted checkpoint's variant."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["VariantTable", "variant_arguments"]

#: variant name -> the constructor arguments it fixes (e.g. ``{"t": {"depths": (2, 2, 4, 2), "dims": (...)}}``)
VariantTable = Mapping[str, Mapping[str, Any]]


def variant_arguments(network: str, table: VariantTable, variant: str, **given: Any) -> dict[str, Any]:
    """The arguments of ``variant`` in ``table``, with every argument in ``given`` that is not ``None`` overriding the
    variant's (e.g. a smaller ``depths`` for a quick demo).

    Args:
        network: the network's class name, for the error message.
        table: the network's variant table.
        variant: the variant's name.
        given: the constructor's explicit arguments (``None`` means "the variant's").

    Raises:
        ValueError: ``variant`` is not in ``table``; the message lists the known names.
    """
    if variant not in table:
        raise ValueError(f"{network}: variant must be one of {sorted(table)}, got {variant!r}")
    arguments = dict(table[variant])
    arguments.update({name: value for name, value in given.items() if value is not None})
    return arguments
