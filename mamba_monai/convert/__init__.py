"""Convert checkpoints of the original repositories (MedMamba, MedMambaSE, Microscopic-Mamba, SliceMamba, SegMamba,
SE-ResNeXt) into checkpoints of this package's networks: ``mamba-monai convert --from FAMILY IN.pth OUT.pt``."""

from mamba_monai.convert.checkpoint_io import load_checkpoint_file, save_state_dict, unwrap_state_dict
from mamba_monai.convert.convert import ConversionResult, convert_checkpoint, convert_state_dict
from mamba_monai.convert.families import FAMILIES, Family, detect_families, get_family
from mamba_monai.convert.state_fit import fit_problems
from mamba_monai.convert.timm_stem_pool import use_timm_stem_pool

__all__ = [
    "FAMILIES",
    "ConversionResult",
    "Family",
    "convert_checkpoint",
    "convert_state_dict",
    "detect_families",
    "fit_problems",
    "get_family",
    "load_checkpoint_file",
    "save_state_dict",
    "unwrap_state_dict",
    "use_timm_stem_pool",
]
