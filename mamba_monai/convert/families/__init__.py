"""The network families ``mamba-monai convert`` understands: how to recognise an original checkpoint, which converter
renames its keys, which constructor arguments the converted tensors imply, and how to build our network.

A family is a :class:`Family` in :data:`FAMILIES`, one module per family. The pipeline (see
:func:`mamba_monai.convert.convert_checkpoint`) is: ``rename`` the original's keys to ours, ``infer`` the network's
constructor arguments from the tensors' shapes (stage depths, widths, class count, input channels, ...), ``build``
the network and check that the tensors fit it exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mamba_monai.convert.families.family import Family
from mamba_monai.convert.families.medmamba import MEDMAMBA, MEDMAMBASE
from mamba_monai.convert.families.msmamba import MSMAMBA
from mamba_monai.convert.families.segmamba import SEGMAMBA
from mamba_monai.convert.families.senet import SENET
from mamba_monai.convert.families.slicemamba import SLICEMAMBA

__all__ = ["FAMILIES", "Family", "detect_families", "get_family"]


#: every family by its ``--from`` name
FAMILIES: dict[str, Family] = {
    family.name: family for family in (MEDMAMBA, MEDMAMBASE, MSMAMBA, SLICEMAMBA, SEGMAMBA, SENET)
}


def get_family(name: str) -> Family:
    """The family called ``name``; a ValueError lists the known ones."""
    if name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}; --from must be one of: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def detect_families(state: Mapping[str, Any]) -> list[str]:
    """Names of the families whose key patterns the state dict's keys show (original or our layout)."""
    keys = list(state)
    return [name for name, family in FAMILIES.items() if family.looks_like(keys)]
