"""Key renaming from each original repository's state dict to this package's network, one module per original.
Each ``convert_*_state_dict`` is a pure function of the state dict: no file access, no network built."""

from mamba_monai.convert.renames.medmamba import convert_medmamba_state_dict
from mamba_monai.convert.renames.msmamba import convert_msmamba_state_dict
from mamba_monai.convert.renames.segmamba import convert_segmamba_state_dict
from mamba_monai.convert.renames.seresnext import convert_seresnext_state_dict
from mamba_monai.convert.renames.slicemamba import convert_slicemamba_state_dict

__all__ = [
    "convert_medmamba_state_dict",
    "convert_msmamba_state_dict",
    "convert_segmamba_state_dict",
    "convert_seresnext_state_dict",
    "convert_slicemamba_state_dict",
]
