"""mamba-monai: Mamba and Squeeze-and-Excitation networks for medical imaging, as MONAI bundles.

Importing the package registers the selective-scan custom ops (``torch.ops.mamba_monai.*``).
"""

from mamba_monai import ops  # noqa: F401 - registers the custom ops

__version__ = "0.2.0"

__all__ = ["__version__", "ops"]
