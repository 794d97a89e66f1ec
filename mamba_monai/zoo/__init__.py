"""mamba_monai.zoo."""
