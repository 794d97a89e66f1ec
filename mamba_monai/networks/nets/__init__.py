"""Networks, one file per family. Bundle configs reach them as ``mamba_monai.networks.nets.<Name>``."""

from mamba_monai.networks.nets.msmamba import MICROSCOPIC_MAMBA_VARIANTS, MicroscopicMamba, MicroscopicMambaBlock
from mamba_monai.networks.nets.segmamba import SegMamba, SegMambaEncoder

__all__ = [
    "MICROSCOPIC_MAMBA_VARIANTS",
    "MicroscopicMamba",
    "MicroscopicMambaBlock",
    "SegMamba",
    "SegMambaEncoder",
]
