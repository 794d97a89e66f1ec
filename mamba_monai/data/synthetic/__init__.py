"""Synthetic, labelled, learnable data sets written in the formats of the real ones (seeded, deterministic)."""

from mamba_monai.data.synthetic.brats import synthesize_brats_case, synthetic_brats_case_id, write_synthetic_brats

from mamba_monai.data.synthetic.dermoscopy import (
    DERMOSCOPY_LAYOUTS,
    synthesize_dermoscopy_image,
    write_synthetic_dermoscopy,
)
from mamba_monai.data.synthetic.microscopy import (
    MICROSCOPY_CLASSES,
    synthesize_microscopy_image,
    write_synthetic_microscopy,
)
from mamba_monai.data.synthetic.ultrasound import (
    ULTRASOUND_CLASSES,
    synthesize_ultrasound_image,
    write_synthetic_ultrasound,
)

__all__ = [
    "DERMOSCOPY_LAYOUTS",
    "synthesize_dermoscopy_image",
    "write_synthetic_dermoscopy",
    "MICROSCOPY_CLASSES",
    "ULTRASOUND_CLASSES",
    "synthesize_brats_case",
    "synthesize_microscopy_image",
    "synthesize_ultrasound_image",
    "synthetic_brats_case_id",
    "write_synthetic_brats",
    "write_synthetic_microscopy",
    "write_synthetic_ultrasound",
]
