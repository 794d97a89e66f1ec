"""mamba_monai.label."""
