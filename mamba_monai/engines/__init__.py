"""mamba_monai.engines."""
