"""Package layout that pyproject.toml cannot express: the C++ kernel source lives in kernels/ at the repository root
(see docs/architecture.md, "Layers") and ships inside wheels as mamba_monai/_kernels, where mamba_monai.ops.compiled
finds it."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["mamba_monai", "mamba_monai.*"])
    + ["mamba_monai._kernels", "mamba_monai._kernels.selective_scan"],
    package_dir={"mamba_monai._kernels": "kernels"},
    package_data={"mamba_monai._kernels.selective_scan": ["*.cpp", "*.h"]},
)
