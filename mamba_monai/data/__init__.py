"""mamba_monai.data."""
