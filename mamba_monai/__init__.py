"""mamba-monai: Mamba and Squeeze-and-Excitation networks for medical imaging, as MONAI bundles.

Importing the package registers the selective-scan custom ops (``torch.ops.mamba_monai.*``) and makes an uncaught
error end with its innermost cause (:mod:`mamba_monai.utils.error_summary`), so bundle runs end with a readable line.
"""

from mamba_monai import ops  # noqa: F401 - registers the custom ops
from mamba_monai.utils.error_summary import install_error_summary

install_error_summary()

__version__ = "0.2.0"

__all__ = ["__version__", "ops"]
