"""Networks, one file per family (architectures only; checkpoint conversion lives in :mod:`mamba_monai.convert`).
Bundle configs reach them as ``mamba_monai.networks.nets.<Name>``; each family's named variants are in its
``<NAME>_VARIANTS`` table (``variant="t"``)."""

from __future__ import annotations

import importlib
from typing import Any

from mamba_monai.networks.nets.medmamba import MEDMAMBA_VARIANTS, MedMamba, MedMambaBlock, channel_shuffle_last
from mamba_monai.networks.nets.medmambase import MEDMAMBASE_VARIANTS, MedMambaSE, MedMambaSEBlock
from mamba_monai.networks.nets.msmamba import MSMAMBA_VARIANTS, MSMamba, MSMambaBlock
from mamba_monai.networks.nets.segmamba import SEGMAMBA_VARIANTS, SegMamba, SegMambaEncoder
from mamba_monai.networks.nets.slicemamba import SLICEMAMBA_VARIANTS, SliceMamba, SliceMambaBlock, SliceMambaSupernet

__all__ = [
    "MEDMAMBASE_VARIANTS",
    "MEDMAMBA_VARIANTS",
    "MSMAMBA_VARIANTS",
    "SEGMAMBA_VARIANTS",
    "SLICEMAMBA_VARIANTS",
    "MSMamba",
    "MSMambaBlock",
    "MedMamba",
    "MedMambaBlock",
    "MedMambaSE",
    "MedMambaSEBlock",
    "SegMamba",
    "SegMambaEncoder",
    "SliceMamba",
    "SliceMambaBlock",
    "SliceMambaSupernet",
    "channel_shuffle_last",
]

#: names that bundle configs of earlier versions use, and where they live now
_MOVED = {
    "MicroscopicMamba": ("mamba_monai.networks.nets.msmamba", "MSMamba"),
    "load_seresnext_pretrained": ("mamba_monai.convert.pretrained", "load_seresnext_pretrained"),
}


def __getattr__(name: str) -> Any:
    """Earlier names used in bundle configs (``_target_`` / ``$`` expressions) keep resolving to their new homes."""
    if name in _MOVED:
        module, new_name = _MOVED[name]
        return getattr(importlib.import_module(module), new_name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
