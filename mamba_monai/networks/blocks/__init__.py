"""Reusable layers: scan orders, the selective SSM core, SS2D and 3D Mamba mixers."""

from mamba_monai.networks.blocks.eca import DepthwiseECA
from mamba_monai.networks.blocks.genotype import (
    DEFAULT_DECODER_DEPTHS,
    DEFAULT_ENCODER_DEPTHS,
    SLICE_CHOICES,
    Genotype,
    random_genotype,
)
from mamba_monai.networks.blocks.gsc import GSC
from mamba_monai.networks.blocks.mamba3d import Mamba3DMixer
from mamba_monai.networks.blocks.mamba_layer import MambaLayer
from mamba_monai.networks.blocks.mifa import MIFA
from mamba_monai.networks.blocks.parallel_vssm import ParallelVSSM
from mamba_monai.networks.blocks.patch_expand import PatchExpand2D
from mamba_monai.networks.blocks.psffn import PSFFN
from mamba_monai.networks.blocks.scan_orders import (
    CrossScan2D,
    RasterScan,
    ScanOrder,
    SliceScan2D,
    TriOrientedScan3D,
    scan_order_from_name,
)
from mamba_monai.networks.blocks.selective_ssm import MultiDirectionSSM, dt_bias_init
from mamba_monai.networks.blocks.squeeze_excitation import SqueezeExcitation
from mamba_monai.networks.blocks.ss2d import SS2D
from mamba_monai.networks.blocks.ss2d_psffn import SS2DPSFFN

__all__ = [
    "DEFAULT_DECODER_DEPTHS",
    "DEFAULT_ENCODER_DEPTHS",
    "SLICE_CHOICES",
    "Genotype",
    "PatchExpand2D",
    "random_genotype",
    "GSC",
    "MIFA",
    "PSFFN",
    "SS2DPSFFN",
    "CrossScan2D",
    "DepthwiseECA",
    "MambaLayer",
    "ParallelVSSM",
    "Mamba3DMixer",
    "MultiDirectionSSM",
    "RasterScan",
    "SS2D",
    "SqueezeExcitation",
    "ScanOrder",
    "SliceScan2D",
    "TriOrientedScan3D",
    "dt_bias_init",
    "scan_order_from_name",
]
