"""Networks, one file per family. Bundle configs reach them as ``mamba_monai.networks.nets.<Name>``."""

from mamba_monai.networks.nets.medmamba import (
    MEDMAMBA_VARIANTS,
    MedMamba,
    MedMambaBlock,
    channel_shuffle_last,
    convert_medmamba_state_dict,
    medmamba_b,
    medmamba_s,
    medmamba_t,
)
from mamba_monai.networks.nets.medmamba_se import MedMambaSE, MedMambaSEBlock
from mamba_monai.networks.nets.msmamba import (
    MICROSCOPIC_MAMBA_VARIANTS,
    MicroscopicMamba,
    MicroscopicMambaBlock,
    convert_msmamba_state_dict,
)
from mamba_monai.networks.nets.senet_pretrained import convert_seresnext_state_dict, load_seresnext_pretrained
from mamba_monai.networks.nets.segmamba import SegMamba, SegMambaEncoder, convert_segmamba_state_dict
from mamba_monai.networks.nets.slicemamba import (
    SliceMamba,
    SliceMambaBlock,
    SliceMambaSupernet,
    convert_slicemamba_state_dict,
)

__all__ = [
    "MEDMAMBA_VARIANTS",
    "MedMamba",
    "MedMambaBlock",
    "MedMambaSE",
    "MedMambaSEBlock",
    "channel_shuffle_last",
    "convert_medmamba_state_dict",
    "convert_seresnext_state_dict",
    "load_seresnext_pretrained",
    "medmamba_b",
    "medmamba_s",
    "medmamba_t",
    "MICROSCOPIC_MAMBA_VARIANTS",
    "MicroscopicMamba",
    "MicroscopicMambaBlock",
    "convert_msmamba_state_dict",
    "SegMamba",
    "SegMambaEncoder",
    "convert_segmamba_state_dict",
    "SliceMamba",
    "SliceMambaBlock",
    "SliceMambaSupernet",
    "convert_slicemamba_state_dict",
]
