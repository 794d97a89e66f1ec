"""Convert checkpoints of the original repositories (MedMamba, MedMambaSE, Microscopic-Mamba, SliceMamba, SegMamba,
SE-ResNeXt) into checkpoints of this package's networks: ``mamba-monai convert --from FAMILY IN.pth OUT.pt``.

Everything about other code's checkpoints lives here, once: reading and unwrapping checkpoint files
(:mod:`~mamba_monai.convert.checkpoint_io`), the key renaming of each original (:mod:`~mamba_monai.convert.renames`),
recognising a family and inferring its sizes (:mod:`~mamba_monai.convert.families`, whose named variants are the
networks' own ``*_VARIANTS`` tables), the fit report (:mod:`~mamba_monai.convert.state_fit`) and loading local
ImageNet weights into MONAI's SENet (:mod:`~mamba_monai.convert.pretrained`)."""

from mamba_monai.convert.checkpoint_io import load_checkpoint_file, save_state_dict, unwrap_state_dict
from mamba_monai.convert.convert import ConversionResult, convert_checkpoint, convert_state_dict
from mamba_monai.convert.families import FAMILIES, Family, detect_families, get_family
from mamba_monai.convert.pretrained import load_seresnext_pretrained
from mamba_monai.convert.renames import (
    convert_medmamba_state_dict,
    convert_msmamba_state_dict,
    convert_segmamba_state_dict,
    convert_seresnext_state_dict,
    convert_slicemamba_state_dict,
)
from mamba_monai.convert.state_fit import fit_problems
from mamba_monai.convert.timm_stem_pool import use_timm_stem_pool

__all__ = [
    "FAMILIES",
    "ConversionResult",
    "Family",
    "convert_checkpoint",
    "convert_medmamba_state_dict",
    "convert_msmamba_state_dict",
    "convert_segmamba_state_dict",
    "convert_seresnext_state_dict",
    "convert_slicemamba_state_dict",
    "convert_state_dict",
    "detect_families",
    "fit_problems",
    "get_family",
    "load_checkpoint_file",
    "load_seresnext_pretrained",
    "save_state_dict",
    "unwrap_state_dict",
    "use_timm_stem_pool",
]
